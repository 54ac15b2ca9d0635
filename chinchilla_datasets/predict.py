"""``chinchilla predict``: ask an OpenAI-compatible endpoint (vLLM or SGLang serving a fine-tuned
model, or a hosted API) for the answer to every row of an instruct split, for ``chinchilla score``.

- Each request carries the messages the ``openai`` export trains on (``exports.chat_messages``:
  the system message and the user prompt), through the shared client ``llm.ChatClient`` (bounded
  concurrency, retries with backoff, timeouts, the API key read from an environment variable).
- Answers are appended to the out file as ``{"id", "output"}`` lines as they arrive, flushed one
  by one, so an interrupted run loses at most the requests in flight. A rerun reads the out file
  and asks only the rows it does not answer yet; a last line cut off by the interruption is
  dropped (that row is asked again), a malformed line elsewhere or an id that is no row of the
  split stops the run (the file belongs to something else).
- EET/EEA training rows are not asked: ``chinchilla score`` does not score them.
- A row whose request fails for good (after the client's retries) is counted and left unanswered
  (the next run asks it again); an unreachable endpoint, an unknown model or refused credentials
  stop the run at once.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .exports import chat_messages
from .llm import DEFAULT_API_KEY_ENV, ChatClient, CredentialsRefused, EndpointUnreachable, LLMError, ModelNotFound, map_ordered

SCORED_TASKS = ("NER", "RE", "EE")


@dataclass
class PredictReport:
    asked: int = 0  # rows sent to the endpoint in this run
    answered: int = 0  # of those, answered (and written)
    failed: int = 0  # of those, failed for good after retries
    already: int = 0  # rows the out file answered before this run
    not_scored: int = 0  # EET/EEA rows left out

    def describe(self, out: str) -> str:
        parts = [f"answered {self.answered} of {self.asked} rows asked"]
        if self.already:
            parts.append(f"{self.already} already in {out}")
        if self.not_scored:
            parts.append(f"{self.not_scored} EET/EEA training rows not asked (not scored)")
        if self.failed:
            parts.append(f"{self.failed} failed after retries (run again to ask them)")
        return "; ".join(parts)


def answered_ids(path: Path, known_ids: set) -> set:
    """Ids the out file answers already. A last line cut off mid-write (no newline, not JSON) is
    removed from the file; any other bad line, or an id that is no row of the split, raises ValueError."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] and not data.endswith(b"\n"):
        try:
            json.loads(lines[-1])
            data += b"\n"  # a complete last line whose newline was not written
        except ValueError:
            data = data[: len(data) - len(lines[-1])]  # cut off mid-write: ask that row again
        path.write_bytes(data)
    ids = set()
    for line_no, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            row_id = str(item["id"])
            if not isinstance(item.get("output"), str):
                raise ValueError("no string 'output'")
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{line_no}: not a prediction line {{\"id\", \"output\"}} ({err}); move the file away to start over") from None
        if row_id not in known_ids:
            raise ValueError(f"{path}:{line_no}: id {row_id!r} is not a row of this split; is the out file from another config or split?")
        ids.add(row_id)
    return ids


async def predict_rows(
    rows: Iterable[dict],
    out: str,
    client: ChatClient,
    *,
    limit: Optional[int] = None,
    progress: bool = True,
) -> PredictReport:
    """Ask ``client`` for every scored row of ``rows`` (the first ``limit`` of them) not answered in
    ``out`` yet, appending ``{"id", "output"}`` lines as answers arrive."""
    report = PredictReport()
    scored = []
    for row in rows:
        if row["task"] not in SCORED_TASKS:
            report.not_scored += 1
        else:
            scored.append(row)
    if limit is not None:
        scored = scored[:limit]
    path = Path(out)
    done = answered_ids(path, {row["id"] for row in scored})
    todo = [row for row in scored if row["id"] not in done]
    report.already = len(done)
    report.asked = len(todo)
    if not todo:
        return report
    await client.check()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as sink:

        async def ask(row: dict) -> bool:
            try:
                answer = await client.chat(chat_messages(row))
            except (EndpointUnreachable, ModelNotFound, CredentialsRefused):  # every other row would fail alike
                raise
            except LLMError:
                report.failed += 1
                return False
            sink.write(json.dumps({"id": row["id"], "output": answer}, ensure_ascii=False) + "\n")
            sink.flush()  # written as it arrives: a killed run keeps every answer but those in flight
            report.answered += 1
            return True

        async for _ in map_ordered(
            ask, todo, concurrency=client.concurrency, total=len(todo), desc="predict",
            is_failure=lambda ok: not ok, progress=progress,
        ):
            pass
    return report


def run_predict(
    rows: Iterable[dict],
    out: str,
    endpoint: str,
    model: str,
    *,
    concurrency: int = 8,
    limit: Optional[int] = None,
    api_key_env: str = DEFAULT_API_KEY_ENV,
    timeout: float = 120.0,
    max_retries: int = 4,
    progress: bool = True,
) -> PredictReport:
    """``predict_rows`` with a client for ``endpoint`` and ``model``, from synchronous code."""

    async def run() -> PredictReport:
        async with ChatClient(
            endpoint, model, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout, max_retries=max_retries
        ) as client:
            return await predict_rows(rows, out, client, limit=limit, progress=progress)

    return asyncio.run(run())

