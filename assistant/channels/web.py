"""The chat page: static HTML/CSS/JS shipped in the package, no build step, no CDN."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter
from fastapi.responses import Response

from envqa.core.errors import NotFound
from envqa.core.settings import Settings

MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8"}

# The page talks only to its own origin; the policy makes "works offline, no CDN" hold in the
# browser too, and keeps any markup that slipped into document text from running.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def static_files() -> dict[str, Traversable]:
    """The page's assets by file name; only these names are ever served."""
    folder = files("assistant.channels").joinpath("static")
    return {item.name: item for item in folder.iterdir()
            if item.is_file() and any(item.name.endswith(suffix) for suffix in MEDIA_TYPES)}


def asset_response(item: Traversable, headers: dict[str, str] | None = None) -> Response:
    media_type = next(kind for suffix, kind in MEDIA_TYPES.items() if item.name.endswith(suffix))
    # no-cache: the browser revalidates, so an upgraded package is seen on the next load
    return Response(item.read_bytes(), media_type=media_type,
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", **(headers or {})})


def router(settings: Settings) -> APIRouter:
    """GET / serves the page, GET /static/{name} its stylesheet and script."""
    assets = static_files()
    web = APIRouter(include_in_schema=False)

    @web.get("/")
    def page() -> Response:
        return asset_response(assets["index.html"], {"Content-Security-Policy": PAGE_POLICY})

    @web.get("/static/{name}")
    def static(name: str) -> Response:
        item = assets.get(name)
        if item is None:
            raise NotFound(f"no static file '{name}'", hint="the page is served at /")
        return asset_response(item)

    return web
