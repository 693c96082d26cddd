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
            request = json.loads(self.rfile.read(length))
            received.append(request)
            if request.get("stream"):
                self.stream(reply)
                return
            self.send_json({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })

        def stream(self, text: str) -> None:
            """The reply as server-sent chunks of a few characters each, as a model writes it."""
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for start in range(0, len(text), 4):
                chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                         "choices": [{"index": 0, "delta": {"content": text[start:start + 4]}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    with serving(Handler) as url:
        yield f"{url}/v1", received
