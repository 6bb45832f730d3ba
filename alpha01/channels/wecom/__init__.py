"""微信客服 (WeCom kf): the official channel. httpx and cryptography only; imported lazily."""
