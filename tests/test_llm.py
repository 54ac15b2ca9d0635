"""The OpenAI-compatible client and its cache, against the fake server on loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from chinchilla_datasets.llm import (
    ChatClient,
    EndpointUnreachable,
    ModelNotFound,
    RequestFailed,
    ResponseCache,
    map_ordered,
)
from fake_openai import FakeOpenAI, Reply, fake_openai, free_port_url  # noqa: F401  (fixture)


def user(text: str) -> list:
    return [{"role": "user", "content": text}]


def run(coro):
    return asyncio.run(coro)


async def ask(server, messages, **client_options):
    options = {"backoff_base": 0.01, "backoff_max": 0.05, **client_options}
    async with ChatClient(server.base_url, server.models[0], **options) as client:
        return await client.chat(messages)


def test_answer_and_request_body(fake_openai):
    server = fake_openai({"Hello": "你好"})
    assert run(ask(server, user("Hello"))) == "你好"
    assert server.requests == 1
    assert server.bodies[0]["model"] == "fake-model" and server.bodies[0]["temperature"] == 0


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_retries_transient_statuses(fake_openai, status):
    server = fake_openai({"Hello": [Reply.http(status), Reply.http(status), "你好"]})
    assert run(ask(server, user("Hello"))) == "你好"
    assert server.requests == 3


def test_retry_after_is_honoured_within_the_cap(fake_openai):
    server = fake_openai({"Hello": [Reply.http(429, retry_after=0.3), "你好"]})
    started = time.monotonic()
    assert run(ask(server, user("Hello"), backoff_max=1.0)) == "你好"
    assert time.monotonic() - started >= 0.3


def test_malformed_body_is_retried(fake_openai):
    server = fake_openai({"Hello": [Reply.broken_json(), "你好"]})
    assert run(ask(server, user("Hello"))) == "你好"
    assert server.requests == 2


def test_timeout_is_retried(fake_openai):
    server = fake_openai({"Hello": [Reply.slow("迟到", 1.0), "你好"]})
    assert run(ask(server, user("Hello"), timeout=0.2)) == "你好"
    assert server.requests == 2


def test_attempts_are_bounded(fake_openai):
    server = fake_openai({"Hello": Reply.http(500)})
    with pytest.raises(RequestFailed, match="failed 3 times; last: HTTP 500"):
        run(ask(server, user("Hello"), max_retries=2))
    assert server.requests == 3


def test_client_errors_are_not_retried(fake_openai):
    server = fake_openai({"Hello": Reply.http(400)})
    with pytest.raises(RequestFailed, match="HTTP 400"):
        run(ask(server, user("Hello")))
    assert server.requests == 1


def test_unreachable_endpoint_is_one_line():
    async def go():
        async with ChatClient(free_port_url(), "m", backoff_base=0.01, max_retries=1) as client:
            with pytest.raises(EndpointUnreachable) as check_error:
                await client.check()
            with pytest.raises(EndpointUnreachable) as chat_error:
                await client.chat(user("Hello"))
        return str(check_error.value), str(chat_error.value)

    for message in run(go()):
        assert message.startswith("cannot reach http://127.0.0.1:") and "\n" not in message


def test_unknown_model(fake_openai):
    server = fake_openai({"Hello": "你好"}, models=("served-model",))

    async def go():
        async with ChatClient(server.base_url, "other-model") as client:
            with pytest.raises(ModelNotFound, match="'other-model' is not served .*served: served-model"):
                await client.check()
            with pytest.raises(ModelNotFound, match="HTTP 404"):
                await client.chat(user("Hello"))

    run(go())
    assert server.requests == 1  # a 404 is final


def test_endpoint_without_models_list_passes_check(fake_openai):
    server = fake_openai({"Hello": "你好"}, serve_models_list=False)

    async def go():
        async with ChatClient(server.base_url, "fake-model") as client:
            return await client.check()

    assert run(go()) == []


def test_concurrency_bounds_requests_in_flight(fake_openai):
    server = fake_openai(lambda messages: Reply.slow("好", 0.1))

    async def go():
        async with ChatClient(server.base_url, "fake-model", concurrency=5) as client:
            await asyncio.gather(*(client.chat(user(str(i))) for i in range(20)))

    run(go())
    assert server.requests == 20
    assert server.max_in_flight == 5


def test_api_key_from_named_variable_never_stored(fake_openai, tmp_path, monkeypatch, capsys):
    secret = "sk-test-SECRET-1234567890"
    monkeypatch.setenv("MY_LLM_KEY", secret)
    server = fake_openai({"Hello": "你好"}, models=("m",))
    cache_path = tmp_path / "cache.sqlite"

    async def go():
        async with ChatClient(server.base_url, "m", api_key_env="MY_LLM_KEY") as client:
            await client.check()
            answer = await client.chat(user("Hello"))
            assert secret not in repr(client)
            with ResponseCache(cache_path) as cache:
                cache.put(client.model, "v1", "Hello", answer)
            with pytest.raises(ModelNotFound) as error:
                client.model = "gone"
                await client.chat(user("Hello"))
            assert secret not in str(error.value)

    run(go())
    assert server.authorizations[:2] == [f"Bearer {secret}"] * 2
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    for path in tmp_path.iterdir():  # the database and its WAL/SHM files
        assert secret.encode() not in path.read_bytes()


def test_no_key_variable_sends_no_authorization(fake_openai, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = fake_openai({"Hello": "你好"})
    run(ask(server, user("Hello")))
    assert server.authorizations == [None]


def test_cache_round_trip_and_persistence(tmp_path):
    path = tmp_path / "c.sqlite"
    with ResponseCache(path) as cache:
        assert cache.get("m", "v1", "key") is None
        cache.put("m", "v1", "key", "答案")
        cache.put("m", "v1", "key", "新答案")  # the last accepted answer wins
        assert cache.get("m", "v1", "key") == "新答案"
        assert cache.get("m", "v2", "key") is None and cache.get("other", "v1", "key") is None
    with ResponseCache(path) as reopened:
        assert reopened.get("m", "v1", "key") == "新答案" and len(reopened) == 1


def test_map_ordered_keeps_order_bounds_concurrency_and_counts_failures():
    running = 0
    peak = 0

    async def work(i):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * ((i * 7) % 5))  # out-of-order completion
        running -= 1
        return i

    async def go():
        return [r async for r in map_ordered(work, range(100), concurrency=6, is_failure=lambda r: r % 10 == 0,
                                             progress=False)]

    assert run(go()) == list(range(100))
    assert peak == 6


def test_map_ordered_propagates_errors():
    async def work(i):
        if i == 3:
            raise ValueError("boom")
        return i

    async def go():
        return [r async for r in map_ordered(work, range(10), concurrency=2, progress=False)]

    with pytest.raises(ValueError, match="boom"):
        run(go())
