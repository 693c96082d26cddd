"""No secret reaches a log: settings hide them, platform errors carry no URL, log records are masked."""

from __future__ import annotations

import asyncio
import logging
import socket

import httpx
import pytest

from assistant.channels.wechat.platform import PlatformApi, mp_spec
from envqa.core.errors import PlatformError
from envqa.core.logs import install_redaction, redact
from envqa.core.settings import LlmSettings, WechatSettings

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
