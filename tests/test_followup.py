"""Follow-up questions resolved against the turns before them, and conversations over the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.answer.assistant import Assistant
from assistant.answer.followup import resolve
from envqa import runtime
from envqa.core.settings import Settings

SCHEME = ("焦化企业超低排放改造依据哪个文件？", "1. 《山西省焦化行业超低排放改造实施方案》第三条：…… [1]")
PERMIT = ("排污许可证有效期多久？", "1. 《排污许可管理条例》第十四条：排污许可证有效期为5年。 [1]")


@pytest.mark.parametrize(("question", "history", "resolved"), [
    ("那钢铁呢？", [SCHEME], "钢铁企业超低排放改造依据哪个文件？"),                        # industry swapped
    ("江苏呢", [("山西省化工园区VOCs排放执行什么标准？", "")], "江苏化工园区VOCs排放执行什么标准？"),  # place
    ("2025年呢？", [("山西2023年焦化产能要压减多少？", "")], "山西2025年焦化产能要压减多少？"),     # year
    ("第十四条呢？", [("排污许可管理条例第十二条规定了什么？", "")], "排污许可管理条例第十四条规定了什么？"),
    ("它要求哪年完成？", [SCHEME], "焦化《山西省焦化行业超低排放改造实施方案》要求哪年完成？"),  # pronoun → cited doc
    ("该条例什么时候施行？", [PERMIT], "《排污许可管理条例》什么时候施行？"),
    ("罚款多少？", [("建设项目未验收就投入生产怎么处罚？", "")], "建设项目未验收就投入生产怎么处罚？罚款多少？"),
    ("报告表呢？", [("环评报告书报上去，审批部门多长时间要给答复？", "")],  # no slot to swap: asked of the whole
     "环评报告书报上去，审批部门多长时间要给答复？报告表呢？"),
    ("What about Jiangsu?", [("What are the VOC limits for chemical parks in Shanxi?", "")],
     "What are the VOC limits for chemical parks in Jiangsu?"),
    ("When does that regulation take effect?", [("How long is a discharge permit valid?", PERMIT[1])],
     "When does 《排污许可管理条例》 take effect?"),
    # A bare pronoun stands for the document answered only when the question asked for a document.
    ("Can it be extended?", [("How long is a discharge permit valid?", PERMIT[1])],
     "How long is a discharge permit valid? Can it be extended?"),
    # A follow-up with no subject of its own goes on in the one law the previous answer rests on …
    ("登记的信息变了，多久内要更新？", [PERMIT], "《排污许可管理条例》登记的信息变了，多久内要更新？"),
    # … but not when that answer drew on several texts, or the follow-up asks which text applies.
    ("登记的信息变了，多久内要更新？", [("排污许可证有效期多久？", PERMIT[1] + "\n2. 《排污许可管理办法》第八条：… [2]")],
     "登记的信息变了，多久内要更新？"),
    ("水污染事故的罚款规定在哪部法律第几条？", [PERMIT], "水污染事故的罚款规定在哪部法律第几条？"),
    # Three turns: the second is resolved first, and the third against it.
    ("它要求哪年完成？", [SCHEME, ("那钢铁呢？", "1. 《山西省钢铁行业超低排放改造实施方案》：…… [1]")],
     "钢铁《山西省钢铁行业超低排放改造实施方案》要求哪年完成？"),
])
def test_a_follow_up_is_resolved_into_the_question_it_stands_for(question: str, history: list[tuple[str, str]],
                                                                 resolved: str) -> None:
    assert resolve(question, history) == resolved


@pytest.mark.parametrize("question", ["钢铁企业水污染物排放执行什么标准？", "《排污许可管理条例》第十四条规定了什么？",
                                      "What does the Shanxi plan say about hydrogen metallurgy?"])
def test_a_question_with_its_own_subject_stands_alone(question: str) -> None:
    assert resolve(question, [SCHEME, PERMIT]) == question


def test_the_assistant_answers_a_follow_up_as_its_resolved_question(assistant: Assistant) -> None:
    first = assistant.ask("示例排放许可证有效期是多久？")
    assert first.status == "answered" and first.resolved_question == first.question
    follow = assistant.ask("该条例什么时候施行？", history=[(first.question, first.answer)])
    assert follow.resolved_question == "《示例污染防治条例》什么时候施行？"
    assert follow.status == "answered" and "2021年3月1日" in follow.answer
    alone = assistant.ask("该条例什么时候施行？")  # no thread: nothing to resolve 「该条例」 against
    assert alone.resolved_question == "该条例什么时候施行？"


def test_conversations_over_the_api_by_id_or_by_history(settings: Settings, assistant: Assistant) -> None:
    settings = settings.model_copy(deep=True)
    settings.api.rate_limit = ""
    with TestClient(runtime.serving_app(settings, assistant)) as client:
        first = client.post("/api/chat", json={"question": "示例排放许可证有效期是多久？"}).json()
        conversation = first["conversation_id"]
        assert conversation and first["status"] == "answered"
        follow = client.post("/api/chat", json={"question": "该条例什么时候施行？",
                                                "conversation_id": conversation}).json()
        assert follow["resolved_question"] == "《示例污染防治条例》什么时候施行？", follow
        assert follow["conversation_id"] == conversation and "2021年3月1日" in follow["answer"]
        # The client may keep the thread itself; an unknown id is a new conversation.
        stateless = client.post("/api/chat", json={"question": "该条例什么时候施行？", "history": [
            {"question": first["question"], "answer": first["answer"]}]}).json()
        assert stateless["resolved_question"] == follow["resolved_question"] and stateless["conversation_id"] is None
        fresh = client.post("/api/chat", json={"question": "该条例什么时候施行？", "conversation_id": "new-one"}).json()
        assert fresh["resolved_question"] == "该条例什么时候施行？"
        bad = client.post("/api/chat", json={"question": "x", "conversation_id": "../../etc"})
        assert bad.status_code == 422
