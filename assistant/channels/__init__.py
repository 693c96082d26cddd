"""Delivering answers: the FastAPI app, the web page and the WeChat/WeCom callbacks."""

from assistant.channels.api import create_app

__all__ = ["create_app"]
