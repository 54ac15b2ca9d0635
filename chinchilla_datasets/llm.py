"""The one client for OpenAI-compatible ``/chat/completions`` endpoints, and its SQLite response cache.

``chinchilla translate`` and ``chinchilla predict`` both talk to a model through this module: vLLM or
SGLang serving an open model (``http://localhost:8000/v1``), or a hosted API — anything that speaks the
OpenAI chat-completions protocol.

Why ``aiohttp``, not ``httpx`` or the official ``openai`` package (which is built on ``httpx``): the
client must never be the bottleneck (issue 15 asks for ≥ 1,000 records/s at 64 in flight on 2
cores). Measured here against an instant asyncio endpoint on loopback, 3,000 POSTs: ``httpx`` 0.28
reached 1,030 requests/s with one in flight but 660 at 8 and 290 at 64 (its connection pool's
bookkeeping grows with the number of connections); ``aiohttp`` 3.14 reached 3,300 at 8 and 3,700 at
64. We need only two calls from the wire (POST ``/chat/completions``, GET ``/models``) and keep the
retries, timeouts and one-line errors in our hands, so the thinner, faster library wins.

- :class:`ChatClient`: N requests in flight (an ``asyncio.Semaphore``), a per-request timeout, retries
  with exponential backoff and jitter on 429, 5xx, timeouts, connection errors and malformed bodies
  (bounded attempts; a ``Retry-After`` header is honoured up to the backoff cap), and one-line errors
  (:class:`EndpointUnreachable`, :class:`ModelNotFound`, :class:`CredentialsRefused`,
  :class:`RequestFailed`).
- The API key is read from an environment variable the caller names (``OPENAI_API_KEY`` by default;
  absent is fine for a local vLLM). It lives only in the HTTP client's headers: it is never printed,
  logged, put in an error message, a ``repr`` or the cache.
- :class:`ResponseCache`: SQLite, keyed on (model, prompt version, input key); stores the accepted answer.
  Answers are committed in groups of at most 256 or one second (WAL, ``synchronous=NORMAL``), and on
  close, so an interrupted run keeps what it committed and a rerun resumes from there.
- :func:`map_ordered`: run a coroutine over many items with bounded concurrency and a tqdm bar
  (records/s, failures), yielding results in input order while holding only a window of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Iterable, Optional

import aiohttp
import orjson

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
_RETRY_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


class LLMError(Exception):
    """A request to the endpoint that cannot succeed; ``str(err)`` is one line."""


class EndpointUnreachable(LLMError):
    """Nothing answers at the base URL (connection refused, DNS, timeouts on every attempt)."""


class ModelNotFound(LLMError):
    """The endpoint answers but does not serve the model (404, or the model missing from ``/models``)."""


class CredentialsRefused(LLMError):
    """HTTP 401/403: the key is missing or wrong (the message names the variable, never the key)."""


class RequestFailed(LLMError):
    """A request that failed for good: a non-retryable status (``refused`` True: asking again would
    get the same answer), or every attempt failed (``refused`` False: a later run may succeed)."""

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_detail(body: bytes) -> str:
    """The server's error message (OpenAI style ``{"error": {"message": …}}``) or the body's start."""
    try:
        parsed = json.loads(body)
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
        message = error.get("message", error) if isinstance(error, dict) else error
        return _one_line(message)
    except ValueError:
        return _one_line(body.decode("utf-8", "replace"))


# Failures of the wire rather than of the server's answer: the request may succeed if sent again.
_TRANSIENT = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


class ChatClient:
    """An async client for one model behind one OpenAI-compatible endpoint.

    Use as ``async with ChatClient(url, model) as client: text = await client.chat(messages)``.
    ``concurrency`` bounds the requests in flight across every caller of this client;
    ``max_retries`` is the number of retries after the first attempt.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.requests_sent = 0  # HTTP requests, retries included
        self._semaphore: Optional[asyncio.Semaphore] = None
        self._http: Optional[aiohttp.ClientSession] = None

    def __repr__(self) -> str:  # says which variable holds the key, never the key
        return f"ChatClient({self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    async def __aenter__(self) -> "ChatClient":
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(self.api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._http = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.concurrency),
            trust_env=False,  # a proxy from the environment must not see local traffic or the key
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _require_open(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("ChatClient is not open: use `async with ChatClient(...) as client`")
        return self._http

    def _unreachable(self, err: BaseException, attempts: int = 1) -> EndpointUnreachable:
        reason = "timed out" if isinstance(err, asyncio.TimeoutError) else _one_line(err) or type(err).__name__
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        return EndpointUnreachable(f"cannot reach {self.base_url}{tries}: {reason}")

    async def check(self) -> list:
        """Fail early with one line when the endpoint is unreachable or does not serve the model.

        Returns the served model ids (empty when the endpoint has no ``/models``, which some proxies lack).
        """
        http = self._require_open()
        try:
            async with http.get(f"{self.base_url}/models") as response:
                status, body = response.status, await response.read()
        except _TRANSIENT as err:
            raise self._unreachable(err) from None
        if status in (401, 403):
            raise CredentialsRefused(
                f"{self.base_url} refused the credentials (HTTP {status}); set the API key in ${self.api_key_env}"
            )
        if status == 404:
            return []
        if status != 200:
            raise RequestFailed(f"{self.base_url}/models: HTTP {status}: {_error_detail(body)}")
        try:
            served = [item["id"] for item in json.loads(body)["data"]]
        except (ValueError, KeyError, TypeError):
            return []
        if self.model not in served:
            raise ModelNotFound(
                f"model {self.model!r} is not served by {self.base_url} (served: {', '.join(served) or 'none'})"
            )
        return served

    def _backoff(self, attempt: int, retry_after: Optional[str] = None) -> float:
        if retry_after:
            try:
                return min(self.backoff_max, max(0.0, float(retry_after)))
            except ValueError:
                pass
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return ceiling * (0.5 + random.random() / 2)  # jitter: callers that failed together retry apart

    async def chat(self, messages: list, **params) -> str:
        """The reply text of one chat completion (``temperature`` 0 unless given), after retries."""
        http = self._require_open()
        url = f"{self.base_url}/chat/completions"
        payload = orjson.dumps({"model": self.model, "messages": messages, "temperature": 0, **params})
        last_problem = "no attempt made"
        wire_error: Optional[BaseException] = None
        for attempt in range(self.max_retries + 1):
            retry_after = None
            async with self._semaphore:
                self.requests_sent += 1
                try:
                    async with http.post(url, data=payload) as response:
                        status, body = response.status, await response.read()
                        retry_after = response.headers.get("Retry-After")
                except _TRANSIENT as err:
                    status, body, wire_error = None, b"", err
                    last_problem = f"timed out after {self.timeout:g} s" if isinstance(err, asyncio.TimeoutError) \
                        else f"{type(err).__name__}: {_one_line(err)}"
            if status == 200:
                try:
                    content = orjson.loads(body)["choices"][0]["message"]["content"]
                except (ValueError, KeyError, IndexError, TypeError):  # (orjson's decode error is a ValueError)
                    content = None
                if isinstance(content, str):
                    return content
                last_problem, wire_error = "malformed response body (no choices[0].message.content)", None
            elif status == 404:
                raise ModelNotFound(f"{url}: HTTP 404 for model {self.model!r}: {_error_detail(body)}")
            elif status in (401, 403):
                raise CredentialsRefused(
                    f"{self.base_url} refused the credentials (HTTP {status}); set the API key in ${self.api_key_env}"
                )
            elif status in _RETRY_STATUSES:
                last_problem, wire_error = f"HTTP {status}: {_error_detail(body)}", None
            elif status is not None:
                raise RequestFailed(f"{url}: HTTP {status}: {_error_detail(body)}", refused=True)
            if attempt < self.max_retries:
                await asyncio.sleep(self._backoff(attempt, retry_after))
        attempts = self.max_retries + 1
        if isinstance(wire_error, aiohttp.ClientConnectorError):  # never connected: nothing listens there
            raise self._unreachable(wire_error, attempts)
        raise RequestFailed(f"{url} failed {attempts} times; last: {last_problem}")


class ResponseCache:
    """Accepted answers in SQLite, keyed on (model, prompt version, input key).

    The input key is stored as its SHA-256 (the index stays small whatever the prompt length). Only the
    answer is stored: no header, no key, no request parameter. Safe to share between coroutines of one
    event loop and between threads (one lock around the connection).

    Writes are committed in groups (every ``commit_every`` puts or ``commit_seconds``, whichever comes
    first, and on ``flush``/``close``): one commit per answer cost more than the rest of a record's
    client-side work. A process killed outright loses at most that last group, which a rerun asks again.
    """

    def __init__(self, path, commit_every: int = 256, commit_seconds: float = 1.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.commit_every = commit_every
        self.commit_seconds = commit_seconds
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (model TEXT NOT NULL, prompt_version TEXT NOT NULL, "
            "key_sha256 TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (model, prompt_version, key_sha256))"
        )
        self._uncommitted = 0
        self._last_commit = time.monotonic()

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def get(self, model: str, prompt_version: str, key: str) -> Optional[str]:
        with self._lock:
            row = self._db.execute(
                "SELECT answer FROM answers WHERE model=? AND prompt_version=? AND key_sha256=?",
                (model, prompt_version, self._digest(key)),
            ).fetchone()
        return row[0] if row else None

    def put(self, model: str, prompt_version: str, key: str, answer: str) -> None:
        with self._lock:
            if not self._uncommitted:
                self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                (model, prompt_version, self._digest(key), answer),
            )
            self._uncommitted += 1
            if self._uncommitted >= self.commit_every or time.monotonic() - self._last_commit >= self.commit_seconds:
                self._commit()

    def _commit(self) -> None:
        if self._uncommitted:
            self._db.execute("COMMIT")
            self._uncommitted = 0
        self._last_commit = time.monotonic()

    def flush(self) -> None:
        """Commit the answers put so far."""
        with self._lock:
            self._commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._commit()
            self._db.close()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


async def map_ordered(
    func: Callable[[object], Awaitable],
    items: Iterable,
    *,
    concurrency: int,
    total: Optional[int] = None,
    desc: str = "",
    is_failure: Callable[[object], bool] = lambda result: False,
    progress: bool = True,
    window: Optional[int] = None,
) -> AsyncIterator:
    """``await func(item)`` for every item, ``concurrency`` at a time, yielding results in input order.

    At most ``concurrency`` calls run at once; up to ``window`` (default 4 × concurrency) items are
    started ahead of the first unfinished one, so one slow item does not idle the others and memory
    stays flat however many items there are. The bar shows records/s and the failures counted by
    ``is_failure``. An exception raised by ``func`` cancels the rest and propagates.
    """
    from tqdm.auto import tqdm

    window = window or 4 * concurrency
    running = asyncio.Semaphore(concurrency)

    async def bounded(item):
        async with running:
            return await func(item)

    iterator = iter(items)
    pending: dict = {}  # index -> task, in input order
    next_index = 0
    next_to_yield = 0
    failures = 0
    bar = tqdm(total=total, desc=desc, unit="rec", disable=not progress, dynamic_ncols=True)
    bar.set_postfix(failures=0, refresh=False)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                pending[next_index] = asyncio.ensure_future(bounded(item))
                next_index += 1
            if next_to_yield not in pending:
                break
            result = await pending.pop(next_to_yield)
            next_to_yield += 1
            if is_failure(result):
                failures += 1
                bar.set_postfix(failures=failures, refresh=False)
            bar.update(1)
            yield result
    finally:
        for task in pending.values():
            task.cancel()
        bar.close()
