"""Channels: where customer messages come from and replies go to (WeChat, web, console, sim)."""
