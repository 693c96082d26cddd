"""The OpenAI-compatible endpoint, driven by the real `openai` package against real uvicorn."""

from __future__ import annotations

import openai
import pytest
import uvicorn
from pydantic import SecretStr

from assistant.answer.assistant import Assistant
from envqa import runtime
from envqa.serving import server_config
from envqa.core.settings import Settings
from tests.test_api import ANSWERABLE, UNANSWERABLE, free_port, running


@pytest.fixture()
def base(settings: Settings, assistant: Assistant):  # type: ignore[no-untyped-def]
    configured = settings.model_copy(deep=True)
    configured.api.rate_limit = ""
    configured.api.keys = SecretStr("reader-key-1")
    server = uvicorn.Server(server_config(configured, runtime.serving_app(configured, assistant), "127.0.0.1",
                                          free_port()))
    with running(server) as url:
        yield url


def test_the_openai_client_gets_a_cited_answer_whole_and_streamed(base: str) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="reader-key-1")
    assert [m.id for m in client.models.list().data] == ["envqa"]
    reply = client.chat.completions.create(model="envqa", messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": ANSWERABLE}])
    content = reply.choices[0].message.content or ""
    citations = (reply.model_extra or {})["citations"]
    assert "GB 13456-2012" in content and "来源：" in content and "[1] 《" in content
    assert citations and citations[0]["quote"] in content

    pieces = []
    final: dict[str, object] = {}
    for part in client.chat.completions.create(model="envqa", stream=True,
                                               messages=[{"role": "user", "content": ANSWERABLE}]):
        pieces.append(part.choices[0].delta.content or "")
        if part.choices[0].finish_reason == "stop":
            final = part.model_extra or {}
    assert len(pieces) > 2 and "".join(pieces) == content  # the same text, sources included
    assert final["citations"] == citations


def test_a_follow_up_in_messages_is_resolved_and_a_refusal_says_so(base: str) -> None:
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="reader-key-1")
    first = client.chat.completions.create(model="envqa", messages=[
        {"role": "user", "content": "示例排放许可证有效期是多久？"}])
    follow = client.chat.completions.create(model="envqa", messages=[
        {"role": "user", "content": "示例排放许可证有效期是多久？"},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "该条例什么时候施行？"}]}])
    assert "2021年3月1日" in (follow.choices[0].message.content or "")
    assert (follow.model_extra or {})["envqa"]["resolved_question"] == "《示例污染防治条例》什么时候施行？"
    refused = client.chat.completions.create(model="envqa", messages=[{"role": "user", "content": UNANSWERABLE}])
    assert (refused.model_extra or {})["envqa"]["status"] == "no_evidence"
    assert (refused.model_extra or {})["citations"] == []


def test_the_endpoint_wants_an_api_key_and_a_user_question(base: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{base}/v1", api_key="wrong").models.list()
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="reader-key-1")
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="envqa", messages=[{"role": "assistant", "content": "hello"}])
