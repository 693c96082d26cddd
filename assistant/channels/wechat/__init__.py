"""WeChat Official Account and WeCom: the platform client, message formatting and the callback routes."""

from assistant.channels.wechat.format import (
           TEXT_ONLY,
           WELCOME,
           chat_text,
           split_message,
           xml_safe,
)
from assistant.channels.wechat.platform import AccessToken, PlatformApi
from assistant.channels.wechat.routes import Dedupe, router

__all__ = ["AccessToken", "Dedupe", "PlatformApi", "TEXT_ONLY", "WELCOME", "chat_text", "router",
           "split_message", "xml_safe"]
