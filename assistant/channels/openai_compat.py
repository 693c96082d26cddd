"""An OpenAI-compatible face: `GET /v1/models` and `POST /v1/chat/completions`, so chat front-ends
and agent frameworks that speak the chat-completions API (chatgpt-on-wechat, Open WebUI, LobeChat,
Dify, the `openai` package) ask envqa as if it were a model.

A conversation comes in `messages`: the last user message is the question, the user and assistant
messages before it are the history a follow-up is resolved against. Citations must survive a client
that shows only text, so the sources are appended to the content as numbered lines; clients that
can read more find them structured in `citations` beside `choices`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.answer.assistant import Assistant
from assistant.answer.followup import Turn
from assistant.answer.types import Answer, Citation
from assistant.channels.answering import Answering
from envqa.core.errors import BadRequest, QuestionTooLong

MODEL = "envqa"
SOURCES = {"zh": "来源：", "en": "Sources:"}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class CompletionRequest(BaseModel):
    """The fields envqa reads; the rest of the OpenAI request (temperature, max_tokens …) is accepted
    and has no effect: answers are chosen from the documents, not sampled."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL
    messages: list[Message] = Field(min_length=1, max_length=100)
    stream: bool = False


def text_of(message: Message) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(str(part.get("text", "")) for part in message.content or [] if part.get("type") == "text")


def conversation(messages: list[Message]) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the (question, answer) turns before it."""
    said = [(m.role, text_of(m).strip()) for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1][0] != "user" or not said[-1][1]:
        raise BadRequest("the last message must be the user's question", hint="end `messages` with a user message")
    turns: list[Turn] = []
    for (role, text), following in zip(said[:-1], said[1:-1] + [("", "")]):
        if role == "user":
            turns.append((text, following[1] if following[0] == "assistant" else ""))
    return said[-1][1], turns


def sources(answer: Answer) -> str:
    """The citations as text: 「[1] 《title》 section：“quote”」, one a line."""
    if not answer.citations:
        return ""
    lines = [SOURCES[answer.language]] + [source_line(c) for c in answer.citations]
    return "\n\n" + "\n".join(lines)


def source_line(cited: Citation) -> str:
    where = " ".join(part for part in (cited.article or "", cited.section.split(" > ")[-1] if cited.section else "")
                     if part)
    page = f" p.{cited.page}" if cited.page else ""
    return f"[{cited.n}] 《{cited.doc_title}》{(' ' + where) if where else ''}{page}：「{cited.quote}」"


def extra(answer: Answer) -> dict[str, Any]:
    return {"citations": [c.model_dump() for c in answer.citations],
            "envqa": {"status": answer.status, "resolved_question": answer.resolved_question,
                      "language": answer.language, "closest_documents": answer.closest_documents}}


def completion(answer: Answer, completion_id: str) -> dict[str, Any]:
    return {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": answer.answer + sources(answer)}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **extra(answer),
    }


def chunk(completion_id: str, delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
    body = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def router(current: Callable[[], Assistant], answering: Answering, reader: list[Any],
           max_question_chars: int) -> APIRouter:
    routes = APIRouter(tags=["OpenAI-compatible"])

    @routes.get("/v1/models", dependencies=reader, summary="The one model: envqa")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "envqa"}]}

    @routes.post("/v1/chat/completions", dependencies=reader, response_model=None,
                 summary="Chat completions: the last user message answered from the documents, with sources")
    async def chat_completions(request: Request, body: CompletionRequest) -> dict[str, Any] | StreamingResponse:
        question, history = conversation(body.messages)
        QuestionTooLong.check(question, max_question_chars)
        assistant = current()
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if not body.stream:
            answer = await anyio.to_thread.run_sync(lambda: assistant.ask(question, history=history),
                                                    limiter=answering.limiter())
            return completion(answer, completion_id)
        events = assistant.stream(question, history=history)

        async def stream() -> AsyncIterator[str]:
            yield chunk(completion_id, {"role": "assistant", "content": ""})
            async for kind, value in answering.each(events):
                if kind == "delta":
                    yield chunk(completion_id, {"content": value})
                elif kind == "done":
                    # The verified answer may differ from what was streamed (an unverifiable sentence
                    # dropped): the final chunk carries it whole in `envqa`, with the sources.
                    answer: Answer = value
                    tail = answer.answer if answer.status != "answered" else ""
                    yield chunk(completion_id, {"content": tail + sources(answer)}, "stop", **extra(answer),
                                final_answer=answer.answer)
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return routes
