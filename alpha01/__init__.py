"""alpha01 (阿尔法01): offline-first AI customer service for small merchants on WeChat."""

__version__ = "0.1.0"
