"""No secret reaches a log: settings hide them, platform errors carry no URL, log records are masked."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import httpx
import pytest

from assistant.channels.wechat.platform import TOKEN_COOLDOWN_S, PlatformApi, mp_spec
from envqa.core.errors import PlatformError
from envqa.core.logs import install_redaction, redact
from envqa.core.settings import LlmSettings, Settings, WechatSettings
from tests.serving import envqa_serve
from tests.test_api import ANSWERABLE
from tests.test_wechat import AGENT_ID, APP_ID, CORP_ID, TOKEN, signed, text_message
from tests.wechat_platform import Credentials, fake_platform

SECRET = "S3CR3T-app-secret-value"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_settings_do_not_show_secrets() -> None:
    wechat = WechatSettings(token=SECRET, app_secret=SECRET, app_id="wx1")
    llm = LlmSettings(api_key=SECRET)
    assert SECRET not in repr(wechat) + str(wechat) + repr(llm) + wechat.model_dump_json() + llm.model_dump_json()
    assert wechat.app_secret.get_secret_value() == SECRET


def test_a_bad_aes_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as error:
        WechatSettings(aes_key="too-short-" + SECRET)
    assert SECRET not in str(error.value)


def test_a_failed_platform_call_names_no_credential() -> None:
    config = WechatSettings(app_id="wx1", app_secret=SECRET, api_base=f"http://127.0.0.1:{closed_port()}")

    async def fetch() -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            await PlatformApi(http, config.api_base, mp_spec(config)).fetch_token()

    with pytest.raises(PlatformError) as error:
        asyncio.run(fetch())
    assert SECRET not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    url = f"https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret={SECRET}"
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info('HTTP Request: GET %s "HTTP/1.1 200 OK"', url)
        logging.getLogger("assistant").warning("push failed: %s", f"/send?access_token={SECRET}&x=1")
        try:
            raise RuntimeError(f"request to {url} failed")
        except RuntimeError:
            logging.getLogger("assistant").exception("platform call failed")
    assert SECRET not in caplog.text
    assert "secret=***" in caplog.text and "access_token=***" in caplog.text


def test_redact_keeps_what_is_not_a_credential() -> None:
    assert redact("GET /cgi-bin/token?appid=wx1&secret=abc&corpid=c1") == "GET /cgi-bin/token?appid=wx1&secret=***&corpid=c1"
    assert redact("nothing secret here") == "nothing secret here"


def test_the_server_log_holds_no_secret_after_failing_platform_calls(settings: Settings, built_index: object,
                                                                      tmp_path: Path) -> None:
    """`envqa serve` in its own process, answering too slowly for the reply, so it pushes: first
    while the platform's token endpoint is down (the fetch URL carries the AppSecret), then while
    its send endpoint fails (the send URL carries the access_token). The log records both failures
    and neither credential."""
    credentials = Credentials(app_id=APP_ID, app_secret=SECRET, corp_id=CORP_ID, corp_secret=SECRET,
                              agent_id=AGENT_ID)
    log = tmp_path / "server.log"
    with fake_platform(credentials) as platform:
        environment = {"ENVQA_ANSWER_GENERATOR": "tests.slow_generator:SlowGenerator",
                       "ENVQA_WECHAT_PUSH": "true", "ENVQA_WECHAT_TOKEN": TOKEN, "ENVQA_WECHAT_APP_ID": APP_ID,
                       "ENVQA_WECHAT_APP_SECRET": SECRET, "ENVQA_WECHAT_API_BASE": platform.base_url,
                       "ENVQA_WECHAT_REPLY_TIMEOUT_S": "0.2"}
        with envqa_serve(settings, log, environment) as served:
            url = served.url
            platform.token_down = True
            assert httpx.post(f"{url}/wechat/mp", params=signed(), timeout=30,
                              content=text_message(ANSWERABLE, 1).encode()).text == "success"
            wait_for_text(log, "could not be pushed")
            platform.token_down, platform.send_down = False, True
            time.sleep(TOKEN_COOLDOWN_S * 2)  # past the cooling-off after the failed fetch
            assert httpx.post(f"{url}/wechat/mp", params=signed(), timeout=30,
                              content=text_message(ANSWERABLE, 2).encode()).text == "success"
            wait_for_text(log, "could not be pushed", times=2)
    written = log.read_text(errors="replace")
    assert platform.tokens, "the second push fetched a token, so its send URL carried one"
    assert SECRET not in written and not any(token in written for token in platform.tokens)
    assert "/cgi-bin/stable_token failed" in written and "/cgi-bin/message/custom/send failed" in written


def wait_for_text(log: Path, text: str, times: int = 1, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while log.read_text(errors="replace").count(text) < times:
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.2)
