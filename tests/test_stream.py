"""Answers streamed as server-sent events: citations, then the text as it is written, then the
final answer, the same as the answer asked for whole."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from assistant.answer.assistant import Assistant
from envqa import runtime
from envqa.core.settings import Settings
from index import Embedder, Index
from tests.llm_server import fake_llm
from tests.local_http import server_sent_events
from tests.test_api import ANSWERABLE, UNANSWERABLE, with_llm


def events_of(client: TestClient, body: dict[str, Any]) -> list[tuple[str, Any]]:
    with client.stream("POST", "/api/chat/stream", json=body) as response:
        assert response.status_code == 200
        return server_sent_events(response.iter_lines())


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in ("timings_ms", "conversation_id")}


def test_the_stream_is_citations_deltas_then_the_same_answer_as_whole(settings: Settings,
                                                                      assistant: Assistant) -> None:
    settings = settings.model_copy(deep=True)
    settings.api.rate_limit = "1000/minute"  # on, as by default: its middleware must not break a stream
    with TestClient(runtime.serving_app(settings, assistant)) as client:
        events = events_of(client, {"question": ANSWERABLE})
        whole = client.post("/api/chat", json={"question": ANSWERABLE}).json()
        kinds = [k for k, _ in events]
        assert kinds[0] == "citations" and kinds[-1] == "done" and set(kinds[1:-1]) == {"delta"}
        done = events[-1][1]
        assert comparable(done) == comparable(whole)
        assert "".join(d["text"] for k, d in events if k == "delta") == done["answer"]
        assert {c["n"] for c in done["citations"]} <= {c["n"] for c in events[0][1]}
        # A refusal is the final answer alone; a follow-up in the same conversation is resolved.
        refused = events_of(client, {"question": UNANSWERABLE})
        assert [k for k, _ in refused] == ["done"] and refused[0][1]["status"] == "no_evidence"
        first = events_of(client, {"question": "示例排放许可证有效期是多久？"})[-1][1]
        follow = events_of(client, {"question": "该条例什么时候施行？", "conversation_id": first["conversation_id"]})
        assert follow[-1][1]["resolved_question"] == "《示例污染防治条例》什么时候施行？"


def test_an_llm_answer_streams_as_written_and_ends_verified(settings: Settings, embedder: Embedder,
                                                            built_index: Index) -> None:
    reply = "钢铁行业执行《钢铁工业水污染物排放标准》(GB 13456-2012)[1]。这是编造的[9]。"
    with fake_llm(reply) as (url, received):
        configured = with_llm(settings, url)
        configured.api.rate_limit = ""
        with TestClient(runtime.serving_app(configured, runtime.open_assistant(configured, embedder))) as client:
            events = events_of(client, {"question": ANSWERABLE})
    assert received and received[0].get("stream") is True
    deltas = [d["text"] for k, d in events if k == "delta"]
    assert len(deltas) > 3 and "".join(deltas) == reply  # as the model wrote it, piece by piece
    done = events[-1][1]
    assert events[-1][0] == "done" and done["answer"] == "钢铁行业执行《钢铁工业水污染物排放标准》(GB 13456-2012)[1]。"
    assert [c["n"] for c in done["citations"]] == [1]


def test_a_failing_llm_endpoint_streams_the_extractive_answer(settings: Settings, embedder: Embedder,
                                                              built_index: Index) -> None:
    from tests.test_api import free_port

    configured = with_llm(settings, f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    configured.api.rate_limit = ""
    with TestClient(runtime.serving_app(configured, runtime.open_assistant(configured, embedder))) as client:
        events = events_of(client, {"question": ANSWERABLE})
    done = events[-1][1]
    assert done["status"] == "answered" and "".join(d["text"] for k, d in events if k == "delta") == done["answer"]


def test_with_an_llm_a_follow_up_is_condensed_by_the_model(settings: Settings, embedder: Embedder,
                                                           built_index: Index) -> None:
    with fake_llm("钢铁行业水污染物排放执行什么标准？") as (url, received):
        configured = with_llm(settings, url)
        answer = runtime.open_assistant(configured, embedder).ask(
            "那钢铁呢？", history=[("焦化行业水污染物排放执行什么标准？", "……")])
    assert "Last question: 那钢铁呢？" in str(received[0]["messages"])
    assert answer.resolved_question == "钢铁行业水污染物排放执行什么标准？"
    assert answer.status == "answered"


def test_when_the_model_cannot_condense_the_rules_resolve(settings: Settings, embedder: Embedder,
                                                          built_index: Index) -> None:
    from tests.test_api import free_port

    configured = with_llm(settings, f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    answer = runtime.open_assistant(configured, embedder).ask(
        "那钢铁呢？", history=[("焦化行业水污染物排放执行什么标准？", "……")])
    assert answer.resolved_question == "钢铁行业水污染物排放执行什么标准？"
