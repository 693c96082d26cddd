"""Shared state: the Redis backend against a real redis-server, and two workers behind one port
sharing WeChat records and per-user limits through it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from wechatpy.replies import deserialize_reply

from assistant.channels.state import MemoryState, RedisState, open_state
from envqa.core.errors import ConfigurationError
from envqa.core.settings import Settings
from tests.serving import envqa_serve
from tests.test_api import ANSWERABLE, free_port
from tests.test_wechat import APP_ID, CREDENTIALS, TOKEN, signed, text_message
from tests.wechat_platform import fake_platform

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (Debian's package) on a free port, with nothing written to disk."""
    if not os.access(REDIS, os.X_OK):
        pytest.skip("redis-server is not installed (make test installs it where apt-get can)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_state_records_once_and_expires(redis_url: str) -> None:
    state = RedisState(redis_url, prefix=f"test-{time.monotonic_ns()}:")
    other = RedisState(redis_url, prefix=state._prefix)  # another worker's client, same store
    assert state.first("k", 1) is True and other.first("k", 1) is False
    other.put("v", "答复", 5)
    assert state.get("v") == "答复" and state.get("missing") is None
    time.sleep(1.2)
    assert state.first("k", 1) is True, "records expire"


def test_memory_state_is_one_process_only() -> None:
    assert MemoryState().limits_uri == "memory://"
    assert isinstance(open_state(""), MemoryState)
    with pytest.raises(ConfigurationError) as error:
        open_state("memcached://user:pw@host:11211")
    assert "pw" not in str(error.value)


def test_an_unreachable_redis_fails_at_start_naming_no_password() -> None:
    with pytest.raises(ConfigurationError) as error:
        open_state(f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0")
    assert "cannot reach" in str(error.value) and "s3cret-pw" not in str(error.value)


def wait_for(check: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_two_workers_share_wechat_records_and_limits(settings: Settings, built_index: object, redis_url: str,
                                                     tmp_path: Path) -> None:
    """`envqa serve --workers 2` over one Redis: a message retried twenty times at once, the
    retries spread over both workers, is answered once; a user past the per-user limit is asked
    to wait whichever worker takes the question."""
    redis.Redis.from_url(redis_url).flushdb()
    log = tmp_path / "server.log"
    with fake_platform(CREDENTIALS) as platform:
        environment = {"ENVQA_STATE_URL": redis_url, "ENVQA_ANSWER_GENERATOR": "tests.slow_generator:SlowGenerator",
                       "ENVQA_WECHAT_PUSH": "true", "ENVQA_WECHAT_TOKEN": TOKEN, "ENVQA_WECHAT_APP_ID": APP_ID,
                       "ENVQA_WECHAT_APP_SECRET": CREDENTIALS.app_secret, "ENVQA_WECHAT_API_BASE": platform.base_url,
                       "ENVQA_WECHAT_REPLY_TIMEOUT_S": "0.2", "ENVQA_WECHAT_USER_RATE_LIMIT": "2/minute"}
        with envqa_serve(settings, log, environment, ["--workers", "2"]) as served:
            retried = text_message(ANSWERABLE, 424242, user="oUserRetried0001").encode()

            def deliver(body: bytes) -> httpx.Response:
                with httpx.Client(timeout=30) as fresh:  # a new connection each time, as the platform's retries
                    return fresh.post(f"{served.url}/wechat/mp", params=signed(), content=body)

            with ThreadPoolExecutor(20) as pool:
                acks = [r.text for r in pool.map(deliver, [retried] * 20)]
            limited = [deliver(text_message(f"{ANSWERABLE}{n}", 525252 + n, user="oUserLimited002").encode())
                       for n in range(5)]
            wait_for(lambda: len(platform.messages) >= 3)
            time.sleep(2 * 2.5)  # a second answer to the retried message would have been pushed by now
    assert acks == ["success"] * 20
    assert log.read_text().count("Started server process") == 2
    pushed = [m["touser"] for m in platform.messages]
    assert pushed.count("oUserRetried0001") == 1, pushed
    waits = [deserialize_reply(r.text).content for r in limited if r.text != "success"]
    assert pushed.count("oUserLimited002") == 2 and len(waits) == 3
    assert all(text.startswith("提问太频繁") for text in waits)


def test_several_workers_without_shared_state_refuse_to_run_wechat(settings: Settings, built_index: object) -> None:
    from typer.testing import CliRunner

    from envqa.cli import app

    environment = {"ENVQA_INDEX_DIR": str(settings.index.dir), "ENVQA_WECHAT_TOKEN": TOKEN,
                   "ENVQA_WECHAT_APP_ID": APP_ID, "ENVQA_WECHAT_APP_SECRET": CREDENTIALS.app_secret}
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env=environment)
    assert result.exit_code == 2 and "ENVQA_STATE_URL" in result.output.replace("\n", "")
