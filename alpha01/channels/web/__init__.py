"""The web chat channel: a page served by this PC where a store QR code's customers chat with the
shop. `channel.py` is importable without the web server libraries; `server.py` needs them."""

from .channel import WebChannel, chat_url

__all__ = ["WebChannel", "chat_url"]
