"""A fake OpenAI-compatible server for offline tests: stdlib ``ThreadingHTTPServer`` on a free loopback port.

It answers ``POST /v1/chat/completions`` from a table and ``GET /v1/models`` with the models it serves,
counts requests and the largest number in flight, records each request's body and Authorization
header (so a test can check what the client sent), and injects faults per request.

The table is a dict from the last user message's content to a reply, or a function
``(messages) -> reply``. A reply is a string (the answer), a :class:`Reply` (an answer or a fault), or
a list of those served in order to successive requests with the same content (the last one repeats):
``[Reply.http(500), "正文"]`` fails the first request and answers the retry. Content-level faults (a dropped or broken tag) are plain strings chosen by the table.

    with FakeOpenAI({"Hello": "你好"}) as server:
        client = ChatClient(server.base_url, server.models[0])
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Union

import pytest


@dataclass
class Reply:
    """One response: an answer ``text``, or a fault."""

    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before answering (a slow reply)
    fence: bool = False  # answer wrapped in ```…```
    preface: Optional[str] = None  # a line before the answer ("Here is the translation:")
    malformed: bool = False  # a 200 whose body is not JSON
    retry_after: Optional[float] = None

    @classmethod
    def http(cls, status: int, retry_after: Optional[float] = None) -> "Reply":
        return cls(status=status, retry_after=retry_after)

    @classmethod
    def slow(cls, text: str, delay: float) -> "Reply":
        return cls(text=text, delay=delay)

    @classmethod
    def fenced(cls, text: str) -> "Reply":
        return cls(text=text, fence=True)

    @classmethod
    def prefaced(cls, text: str, preface: str = "Here is the translation:") -> "Reply":
        return cls(text=text, preface=preface)

    @classmethod
    def broken_json(cls) -> "Reply":
        return cls(malformed=True)

    def content(self) -> str:
        text = f"```\n{self.text}\n```" if self.fence else self.text
        return f"{self.preface}\n{text}" if self.preface else text


Answer = Union[str, Reply, list]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that timed out and hung up is a test's intent
            super().handle_error(request, client_address)


class FakeOpenAI:
    """The server; a context manager that starts it on a free port and stops it."""

    def __init__(
        self,
        table: Union[dict, Callable[[list], Answer]],
        models: tuple = ("fake-model",),
        serve_models_list: bool = True,
        default: Optional[Answer] = None,
        api_key: Optional[str] = None,
    ):
        self.table = table
        self.models = list(models)
        self.serve_models_list = serve_models_list
        self.default = default  # reply for content missing from a dict table (else HTTP 400)
        self.api_key = api_key  # when set, any other Authorization gets HTTP 401
        self.lock = threading.Lock()
        self.requests = 0  # chat requests received
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies: list = []  # every chat request body, parsed
        self.authorizations: list = []  # the Authorization header of every request (None if absent)
        self.seen: dict = {}  # content -> requests so far with that content
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reset_counts(self) -> None:
        with self.lock:
            self.requests = self.max_in_flight = 0
            self.bodies.clear()
            self.authorizations.clear()

    def _answer_for(self, messages: list) -> Optional[Reply]:
        content = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if callable(self.table):
            answer = self.table(messages)
        else:
            answer = self.table.get(content, self.default)
        if answer is None:
            return None
        if isinstance(answer, list):
            with self.lock:
                n = self.seen.get(content, 0)
                self.seen[content] = n + 1
            answer = answer[min(n, len(answer) - 1)]
        return answer if isinstance(answer, Reply) else Reply(text=answer)

    def __enter__(self) -> "FakeOpenAI":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            disable_nagle_algorithm = True  # headers and body are two writes: Nagle would delay the body 40 ms

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: bytes, headers: Optional[dict] = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, message: str, headers: Optional[dict] = None) -> None:
                self._send(status, json.dumps({"error": {"message": message, "code": status}}).encode(), headers)

            def _refused(self) -> bool:
                if fake.api_key is not None and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._error(401, "Incorrect API key provided")
                    return True
                return False

            def do_GET(self):
                with fake.lock:
                    fake.authorizations.append(self.headers.get("Authorization"))
                if self._refused():
                    return
                if self.path.rstrip("/") == "/v1/models" and fake.serve_models_list:
                    data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
                    self._send(200, json.dumps({"object": "list", "data": data}).encode())
                else:
                    self._error(404, f"no route {self.path}")

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._error(404, f"no route {self.path}")
                    return
                with fake.lock:
                    fake.requests += 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    fake.authorizations.append(self.headers.get("Authorization"))
                try:
                    if self._refused():
                        return
                    body = json.loads(raw)
                    with fake.lock:
                        fake.bodies.append(body)
                    if body.get("model") not in fake.models:
                        self._error(404, f"The model `{body.get('model')}` does not exist.")
                        return
                    reply = fake._answer_for(body["messages"])
                    if reply is None:
                        self._error(400, "the fake server's table has no answer for this request")
                        return
                    if reply.delay:
                        time.sleep(reply.delay)
                    if reply.status != 200:
                        headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after is not None else None
                        self._error(reply.status, f"injected HTTP {reply.status}", headers)
                        return
                    if reply.malformed:
                        self._send(200, b'{"choices": [{"message": {"content": "truncat')
                        return
                    answer = {
                        "id": f"chatcmpl-{fake.requests}",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content()},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    }
                    self._send(200, json.dumps(answer, ensure_ascii=False).encode("utf-8"))
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def free_port_url() -> str:
    """A loopback URL where nothing listens (for the unreachable-endpoint error)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def fake_openai():
    """A factory fixture: ``server = fake_openai(table, **options)``; every server is stopped after the test."""
    servers = []

    def start(table, **options) -> FakeOpenAI:
        server = FakeOpenAI(table, **options).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
