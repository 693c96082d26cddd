"""A stand-in for an OpenAI-compatible endpoint: a real HTTP server on 127.0.0.1 that tests start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from tests.local_http import JsonHandler, serving


@contextmanager
def fake_llm(reply: str) -> Iterator[tuple[str, list[dict[str, object]]]]:
    """Serve /v1/chat/completions answering `reply`; yields the base URL and the requests received."""
    received: list[dict[str, object]] = []

    class Handler(JsonHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_json({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })

    with serving(Handler) as url:
        yield f"{url}/v1", received
