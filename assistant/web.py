"""The chat page: static HTML/CSS/JS shipped in the package, no build step, no CDN."""

from __future__ import annotations

from fastapi import APIRouter

from envqa.settings import Settings


def router(settings: Settings) -> APIRouter:
    """GET / serves the page."""
    return APIRouter()
