"""The WeChat channel (personal WeChat on the merchant's Windows PC, through wxauto)."""

from .channel import WeChatChannel

__all__ = ["WeChatChannel"]
