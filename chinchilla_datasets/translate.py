"""``chinchilla translate``: English IE records → Chinese, every span projected onto the translation.

The marker protocol (fixed; the checks depend on it):

1. Every distinct ``(start, end)`` span of a unified record — entities, relation heads, tails and
   qualifiers, event triggers and arguments — is numbered N = 1, 2, … in order of ``(start, -end)``
   and wrapped in the English text as ``<mN>…</mN>``; nested spans nest as XML. A span that crosses
   an earlier open span is numbered but not wrapped: it goes straight to the fallback (4).
2. ONE request per record: the system message says what to do, the user message is the tagged
   English text, verbatim and alone. The reply is the Chinese translation with the same tags; a
   code fence or a short preface around it is stripped.
3. The tags are removed and each span's offsets recorded in the Chinese text. A reply whose tags
   are missing, duplicated, unbalanced, broken (``</m2`` without ``>``) or empty is asked again (at
   most twice, the same user message with the problems named in the system message); the attempt
   with the fewest bad spans is accepted.
4. A span still without offsets is asked ALONE (its English mention as the user message, not the
   sentence) and the answer searched in the Chinese text: found exactly once → used, record flagged
   ``projected_by_search``; otherwise the span keeps null offsets, record flagged
   ``projection_failed``. A span is never placed by a guess that is not flagged.

A request that fails for good (transport retries exhausted) writes the record with the flag
``translation_failed``, no text and no annotation; it is not cached, so a rerun retries it. The
accepted answer is cached under the record's first request key (model, prompt version, tagged
text), the mention answers under theirs, so a rerun sends no request for what it already has and
an interrupted run resumes. Output: ``TDIR/<corpus>_zh/<split>.jsonl`` (one unified record per
line, plus ``source_id``, ``source_text`` and ``translation``) and ``schema.json`` (the label set
with Chinese names, for the ``<corpus>_zh`` builder).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .llm import ChatClient, CredentialsRefused, LLMError, ModelNotFound, RequestFailed, ResponseCache, map_ordered
from .schema import spans_of
from .spans import PROJECTED_BY_SEARCH, PROJECTION_FAILED, TRANSLATION_FAILED

PROMPT_VERSION = "translate-v1"
MENTION_PROMPT_VERSION = f"{PROMPT_VERSION}/mention"
MAX_TAG_RETRIES = 2  # re-asks of a reply with bad tags, after the first request

SYSTEM_PROMPT = (
    "You translate English text into Simplified Chinese for an information-extraction dataset. "
    "Mentions in the text are wrapped in numbered tags <m1>…</m1>, <m2>…</m2>, …. Translate the whole "
    "text faithfully and fluently, and wrap the Chinese translation of each tagged mention in the same "
    "tag: every tag exactly once, with its number unchanged, nested as in the input. Do not add, drop "
    "or renumber tags. Reply with the translation only: no explanation, no quotes, no code fence."
)
RETRY_NOTE = (
    " Your previous translation of this text was rejected because of its tags ({problems}). "
    "Translate again and keep every tag <m1>…</m1> to <m{last}>…</m{last}> exactly once."
)
MENTION_PROMPT = (
    "Translate this English mention (a name, term or phrase taken from a sentence) into Simplified "
    "Chinese as it would be written in a Chinese translation of that sentence. Reply with the "
    "translation only."
)

# A tag, or a fragment of one (``</m2`` without ``>``, ``m2>`` without ``<``): fragments are bad tags.
_TAG = re.compile(
    r"<\s*(?P<close>/?)\s*[mM]\s*(?P<num>\d+)\s*>"
    r"|(?P<broken><\s*/?\s*[mM]\s*(?P<bnum>\d+)|(?<![A-Za-z0-9])/?[mM](?P<bnum2>\d+)\s*>)"
)
_CANONICAL_TAG = re.compile(r"<(?P<close>/?)m(?P<num>\d+)>")  # as the request writes them: the fast path
# What is left of a tag the fast path did not read (``< m2 >``, ``<M2>``, ``</m2``, ``m2>``).
_SUSPECT = re.compile(r"<\s*/?\s*[mM]\s*\d|(?<![A-Za-z0-9])/?[mM]\d+\s*>")
_FENCE = re.compile(r"```[^\n`]*\n(?P<body>.*?)(?:\n?\s*```|$)", re.S)
# A preface names the translation ("Here is the Chinese translation:", "以下是翻译：", "译文："): a colon
# phrase WITHOUT such a word ("这是计划：") is part of the text and stays.
_PREFACE = re.compile(
    r"^\s*(?:(?:here\s+is|here's|sure|certainly|okay|ok\b|of course|好的|当然|以下是|下面是|这是)[^\n:：]{0,40}?)?"
    r"(?:the\s+)?(?:translation|translated|translating|chinese|翻译|译文|中文)[^\n:：]{0,30}[:：]\s*",
    re.I,
)
_SOURCE_NAMES_TRANSLATION = re.compile(r"translat|chinese", re.I)
_NOTE = re.compile(r"^\s*[(（]?\s*(?:note|注|备注|说明)\b", re.I)
_WRAPPING_QUOTES = [('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("「", "」"), ("『", "』")]


# ---------------------------------------------------------------------------------------- protocol
@dataclass
class TaggedText:
    """A record's English text with its spans wrapped: ``spans[N-1]`` is span N's ``(start, end)``."""

    text: str
    spans: list
    wrapped: list  # bool per span: False for a span that crosses an earlier one (fallback only)


def tag_record(text: str, record: dict) -> TaggedText:
    """Wrap every distinct span of ``record`` in ``text`` as ``<mN>…</mN>`` (see the module docstring)."""
    spans = sorted(
        {(s["start"], s["end"]) for s in spans_of(record) if s["start"] is not None and s["end"] is not None},
        key=lambda span: (span[0], -span[1]),
    )
    wrapped = [False] * len(spans)
    pieces, cursor, stack = [], 0, []  # stack: numbers of the open spans, innermost last

    def emit(position: int, tag: str) -> None:
        nonlocal cursor
        pieces.append(text[cursor:position])
        pieces.append(tag)
        cursor = position

    for index, (start, end) in enumerate(spans):
        while stack and spans[stack[-1]][1] <= start:
            emit(spans[stack[-1]][1], f"</m{stack[-1] + 1}>")
            stack.pop()
        if stack and end > spans[stack[-1]][1]:
            continue  # crosses the open span: cannot nest
        emit(start, f"<m{index + 1}>")
        stack.append(index)
        wrapped[index] = True
    while stack:
        emit(spans[stack[-1]][1], f"</m{stack[-1] + 1}>")
        stack.pop()
    pieces.append(text[cursor:])
    return TaggedText("".join(pieces), spans, wrapped)


def strip_wrappers(reply: str, source: str) -> str:
    """The translation inside ``reply``: without a code fence, a preface line (``Here is the
    translation:``) or a trailing note the source does not have, and without surrounding blanks."""
    text = reply.strip()
    fence = _FENCE.search(text)
    if fence:
        text = fence.group("body").strip()
    elif len(text) > 6 and text.startswith("```") and text.endswith("```"):  # a fence on one line
        text = text[3:-3].strip()
    source_lines = source.strip().count("\n") + 1
    lines = text.split("\n")
    while len(lines) > source_lines and not _TAG.search(lines[0]) and (
        _PREFACE.match(lines[0]) or lines[0].rstrip().endswith((":", "："))
    ):
        lines.pop(0)
    while len(lines) > source_lines and not _TAG.search(lines[-1]) and _NOTE.match(lines[-1]):
        lines.pop()
    text = "\n".join(lines).strip()
    # An inline preface ("Translation: <m1>…"), unless the source's opening phrase itself speaks of
    # translation or Chinese ("The translator said: …" → "翻译说：…" is text).
    preface = _PREFACE.match(text)
    source_opening = source.split(":", 1)[0] if ":" in source[:120] else ""
    if preface and not _SOURCE_NAMES_TRANSLATION.search(source_opening) and preface.end() < len(text):
        text = text[preface.end():]
    return text.strip()


@dataclass
class ParsedReply:
    """A reply with its tags removed: offsets of the spans it placed, and what was wrong."""

    text: str
    offsets: dict  # span number -> (start, end) in ``text``
    problems: dict  # span number -> "missing" | "duplicated" | "unbalanced" | "broken" | "empty"
    stray: int = 0  # tags or fragments naming no span of the record

    @property
    def clean(self) -> bool:
        return not self.problems and not self.stray and bool(self.text)

    def describe(self) -> str:
        parts = [f"<m{n}> {problem}" for n, problem in sorted(self.problems.items())]
        if self.stray:
            parts.append(f"{self.stray} tag(s) with numbers not in the input")
        if not self.text:
            parts.append("empty reply")
        return "; ".join(parts)


def _scan(body: str, pattern: re.Pattern, expected: set) -> tuple:
    """``(text, opens, closes, problems, stray)`` of ``body`` with the tags ``pattern`` finds removed."""
    opens: dict = {}
    closes: dict = {}
    problems: dict = {}
    stray = 0
    pieces, length, cursor = [], 0, 0
    for match in pattern.finditer(body):
        piece = body[cursor:match.start()]
        pieces.append(piece)
        length += len(piece)
        cursor = match.end()
        groups = match.groupdict()
        number = int(groups["num"] or groups.get("bnum") or groups.get("bnum2"))
        if number not in expected:
            stray += 1
        elif groups.get("broken"):
            problems[number] = "broken"
        else:
            side = closes if groups["close"] else opens
            if number in side:
                problems.setdefault(number, "duplicated")
            side.setdefault(number, length)
    pieces.append(body[cursor:])
    return "".join(pieces), opens, closes, problems, stray


def _scan_canonical(body: str, expected: set) -> tuple:
    """``_scan`` for tags exactly as the request writes them, with ``re.split`` (the common case, fast)."""
    parts = _CANONICAL_TAG.split(body)  # text, close, number, text, close, number, …, text
    opens: dict = {}
    closes: dict = {}
    problems: dict = {}
    stray = 0
    length = len(parts[0])
    for i in range(1, len(parts), 3):
        number = int(parts[i + 1])
        if number not in expected:
            stray += 1
        else:
            side = closes if parts[i] else opens
            if number in side:
                problems.setdefault(number, "duplicated")
            side.setdefault(number, length)
        length += len(parts[i + 2])
    return "".join(parts[0::3]), opens, closes, problems, stray


def parse_reply(reply: str, tagged: TaggedText, source: str) -> ParsedReply:
    """Strip the wrappers, remove the tags, and locate every wrapped span (see the protocol)."""
    body = strip_wrappers(reply, source)
    expected = {n + 1 for n, wrapped in enumerate(tagged.wrapped) if wrapped}
    scanned = _scan_canonical(body, expected)
    left = scanned[0]
    if ("<" in left or ">" in left) and _SUSPECT.search(left):  # a tag with spaces or capitals, or broken
        scanned = _scan(body, _TAG, expected)
        scanned = _scan(body, _TAG, expected)
    text, opens, closes, problems, stray = scanned
    offsets = {}
    for number in sorted(expected):
        if number in problems:
            continue
        start, end = opens.get(number), closes.get(number)
        if start is None and end is None:
            problems[number] = "missing"
        elif start is None or end is None or end < start:
            problems[number] = "unbalanced"
        elif end == start and tagged.spans[number - 1][1] > tagged.spans[number - 1][0]:
            problems[number] = "empty"
        else:
            offsets[number] = (start, end)
    return ParsedReply(text, offsets, problems, stray)


def clean_mention(answer: str) -> list:
    """Search candidates for a mention's translation: the answer's first line without wrappers,
    quotes or final punctuation; then without title marks 《》."""
    line = next((l for l in strip_wrappers(answer, "x").split("\n") if l.strip()), "").strip()
    for left, right in _WRAPPING_QUOTES:
        if len(line) > 2 and line.startswith(left) and line.endswith(right):
            line = line[1:-1].strip()
    line = line.rstrip("。．.!！")
    candidates = [line] if line else []
    if line.startswith("《") and line.endswith("》") and len(line) > 2:
        candidates.append(line[1:-1])
    return candidates


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def plausible_mention(candidate: str, mention: str) -> bool:
    """Whether a mention's translation can be searched: not tagged, one line, and not much longer
    than the English (a reply that is a whole sentence must not be "found" as the span)."""
    # Chinese takes fewer characters than English; a short acronym may expand (IBM → 国际商业机器公司).
    return bool(candidate) and "<m" not in candidate and "\n" not in candidate and len(candidate) <= len(mention) + 6


def find_once(text: str, needle: str) -> Optional[tuple]:
    """``(start, end)`` of ``needle`` when it occurs exactly once in ``text`` (overlapping occurrences
    counted). A needle that begins or ends with a Latin letter or digit counts only where it is not
    part of a longer Latin word (``IT`` is not found in ``ITV``)."""
    if not needle:
        return None
    found = []
    at = text.find(needle)
    while at >= 0:
        end = at + len(needle)
        inside_word = (_latin(needle[0]) and at > 0 and _latin(text[at - 1])) or (
            _latin(needle[-1]) and end < len(text) and _latin(text[end])
        )
        if not inside_word:
            found.append((at, end))
            if len(found) > 1:
                return None
        at = text.find(needle, at + 1)
    return found[0] if found else None


def project(record: dict, tagged: TaggedText, parsed: ParsedReply, searched: dict, mention_answers: dict) -> dict:
    """The Chinese record: ``record`` with ``text`` = the translation and every span moved onto it.

    ``searched`` maps a span number to its offsets found by search (fallback); ``mention_answers``
    maps it to the mention's translation (the text of a span left with null offsets)."""
    number_of = {span: n + 1 for n, span in enumerate(tagged.spans)}
    flags = list(record["flags"])

    def moved(span: dict) -> dict:
        out = dict(span)
        number = number_of.get((span["start"], span["end"]))
        if number is None:  # no offsets in the source either (e.g. ungrounded there): stays null
            return out
        where = parsed.offsets.get(number) or searched.get(number)
        if where is None:
            out["start"] = out["end"] = None
            out["text"] = mention_answers.get(number) or span["text"]
            if PROJECTION_FAILED not in flags:
                flags.append(PROJECTION_FAILED)
            return out
        if number not in parsed.offsets and PROJECTED_BY_SEARCH not in flags:
            flags.append(PROJECTED_BY_SEARCH)
        out["start"], out["end"] = where
        out["text"] = parsed.text[where[0]:where[1]]
        return out

    result = dict(record)
    result["text"] = parsed.text
    result["entities"] = [moved(e) for e in record["entities"]]
    result["relations"] = [
        {**r, "head": moved(r["head"]), "tail": moved(r["tail"]), "qualifiers": [moved(q) for q in r["qualifiers"]]}
        for r in record["relations"]
    ]
    result["events"] = [
        {**e, "trigger": moved(e["trigger"]), "arguments": [moved(a) for a in e["arguments"]]} for e in record["events"]
    ]
    result["flags"] = flags
    return result


# ---------------------------------------------------------------------------------------- requests
@dataclass
class Translator:
    """Translates unified records through one client and one cache."""

    client: ChatClient
    cache: Optional[ResponseCache] = None
    stats: dict = field(default_factory=lambda: {"translated": 0, "translation_failed": 0, "projection_failed": 0,
                                                 "projected_by_search": 0, "cached": 0})

    def _cached(self, version: str, key: str) -> Optional[str]:
        return self.cache.get(self.client.model, version, key) if self.cache is not None else None

    def _store(self, version: str, key: str, answer: str) -> None:
        if self.cache is not None:
            self.cache.put(self.client.model, version, key, answer)

    async def _tagged_answer(self, tagged: TaggedText, source: str) -> tuple:
        """``(accepted reply parsed, attempts)``: from the cache, or asked up to 1 + MAX_TAG_RETRIES times."""
        hit = self._cached(PROMPT_VERSION, tagged.text)
        if hit is not None:
            stored = json.loads(hit)
            self.stats["cached"] += 1
            return parse_reply(stored["reply"], tagged, source), stored["attempts"]
        best = None  # (badness, reply, parsed)
        system = SYSTEM_PROMPT
        attempts = 0
        for attempt in range(1 + MAX_TAG_RETRIES):
            attempts += 1
            reply = await self.client.chat([{"role": "system", "content": system}, {"role": "user", "content": tagged.text}])
            parsed = parse_reply(reply, tagged, source)
            badness = (not parsed.text, len(parsed.problems), parsed.stray)
            if best is None or badness < best[0]:
                best = (badness, reply, parsed)
            if parsed.clean:
                break
            system = SYSTEM_PROMPT + RETRY_NOTE.format(problems=parsed.describe(), last=len(tagged.spans))
        if not best[2].text and source.strip():  # nothing to accept: a failure, not cached (a rerun asks again)
            raise RequestFailed(f"empty translation in {attempts} replies")
        self._store(PROMPT_VERSION, tagged.text, json.dumps({"reply": best[1], "attempts": attempts}, ensure_ascii=False))
        return best[2], attempts

    async def _mention_answer(self, mention: str) -> Optional[str]:
        hit = self._cached(MENTION_PROMPT_VERSION, mention)
        if hit is not None:
            return hit
        try:
            answer = await self.client.chat([{"role": "system", "content": MENTION_PROMPT}, {"role": "user", "content": mention}])
        except (ModelNotFound, CredentialsRefused):
            raise
        except RequestFailed as err:
            if err.refused:  # the endpoint refuses this request (HTTP 400…): cached as no answer, not asked again
                self._store(MENTION_PROMPT_VERSION, mention, "")
                return ""
            return None  # attempts ran out: not cached, a rerun asks again
        except LLMError:
            return None
        self._store(MENTION_PROMPT_VERSION, mention, answer)
        return answer

    async def translate(self, record: dict, corpus: str, split: str, index: int) -> dict:
        """The Chinese record of one English unified record (``index``: 1-based position in the split)."""
        source_text = record["text"]
        tagged = tag_record(source_text, record)
        info = {"model": self.client.model, "prompt_version": PROMPT_VERSION, "attempts": 0, "mentions_searched": 0,
                "error": None}
        try:
            parsed, info["attempts"] = await self._tagged_answer(tagged, source_text)
        except (ModelNotFound, CredentialsRefused):
            raise
        except LLMError as err:
            self.stats["translation_failed"] += 1
            info["error"] = str(err)
            failed = {**record, "text": None, "entities": [], "relations": [], "events": [],
                      "flags": list(record["flags"]) + [TRANSLATION_FAILED]}
            return self._output(failed, record, corpus, split, index, info)
        missing = [n + 1 for n in range(len(tagged.spans)) if n + 1 not in parsed.offsets]
        answers = await asyncio.gather(
            *(self._mention_answer(source_text[slice(*tagged.spans[n - 1])]) for n in missing)
        )
        info["mentions_searched"] = len(missing)
        searched, mention_answers = {}, {}
        for number, answer in zip(missing, answers):
            mention = source_text[slice(*tagged.spans[number - 1])]
            candidates = [c for c in (clean_mention(answer) if answer else []) if plausible_mention(c, mention)]
            candidates.append(mention)  # a name kept in Latin letters
            mention_answers[number] = candidates[0] if answer and candidates else None
            for candidate in candidates:
                where = find_once(parsed.text, candidate)
                if where:
                    searched[number] = where
                    break
        result = project(record, tagged, parsed, searched, mention_answers)
        self.stats["translated"] += 1
        self.stats["projection_failed"] += PROJECTION_FAILED in result["flags"]
        self.stats["projected_by_search"] += PROJECTED_BY_SEARCH in result["flags"]
        return self._output(result, record, corpus, split, index, info)

    @staticmethod
    def _output(result: dict, record: dict, corpus: str, split: str, index: int, info: dict) -> dict:
        return {
            "id": f"{corpus}_zh-{split}-{index}",
            "corpus": f"{corpus}_zh",
            "task": record["task"],
            "text": result["text"],
            "entities": result["entities"],
            "relations": result["relations"],
            "events": result["events"],
            "flags": result["flags"],
            "source_id": record["id"],
            "source_text": record["text"],
            "translation": info,
        }


# ---------------------------------------------------------------------------------------- corpora
def translated_name(corpus: str) -> str:
    return f"{corpus}_zh"


def translated_schema(builder, source_schema: dict) -> dict:
    """The label set of the translation: the source's types with their Chinese names (``labels_zh``)."""
    labels_zh = builder.corpus.labels_zh
    return {
        "types": [[label, labels_zh.get(label, display)] for label, display in source_schema.get("types", [])],
        "roles": source_schema.get("roles", {}),
        "source": builder.corpus.name,
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


async def _translate_splits(translator: "Translator", corpus: str, splits: dict, out_dir: Path, concurrency: int,
                            progress: bool, log: Callable[[str], None]) -> dict:
    import orjson

    counts = {}
    for split, records in splits.items():
        path = out_dir / f"{split}.jsonl"
        partial = path.with_name(f".{path.name}.partial")  # replaced only when the split is complete
        before = dict(translator.stats)

        async def one(item):
            index, record = item
            return await translator.translate(record, corpus, split, index)

        written = 0
        with open(partial, "wb") as f:
            async for result in map_ordered(
                one, enumerate(records, 1), concurrency=concurrency, total=len(records), desc=f"{corpus}_zh/{split}",
                is_failure=lambda r: TRANSLATION_FAILED in r["flags"], progress=progress,
            ):
                f.write(orjson.dumps(result) + b"\n")
                written += 1
        os.replace(partial, path)
        counts[split] = {"records": written, **{k: translator.stats[k] - before[k] for k in translator.stats}}
        c = counts[split]
        log(f"{corpus}_zh/{split}: {written} records -> {path} ({c['translation_failed']} translation_failed, "
            f"{c['projection_failed']} projection_failed, {c['projected_by_search']} projected_by_search, "
            f"{c['cached']} from the cache)")
    return counts


def source_records(data_dir: str, corpus: str, splits: Optional[list], cache_dir: str, limit: Optional[int] = None):
    """``(builder, {split: records})``: the English corpus's unified view, through its builder."""
    import datasets

    from .registry import get_builder

    cls = get_builder(corpus)
    builder = cls(config_name=f"{corpus}_unified", data_dir=str(Path(data_dir) / corpus), cache_dir=cache_dir)
    builder.download_and_prepare(download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD)
    available = [s for s, info in builder.info.splits.items() if info.num_examples > 0]
    wanted = splits or available
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise KeyError(f"{corpus}: no labelled split {', '.join(unknown)}; available: {', '.join(available)}")
    out = {}
    for split in wanted:
        ds = builder.as_dataset(split=split)
        if limit is not None:
            ds = ds.select(range(min(limit, len(ds))))
        out[split] = ds
    return builder, out


def translate_corpus(
    data_dir: str,
    corpus: str,
    endpoint: str,
    model: str,
    *,
    splits: Optional[list] = None,
    out: Optional[str] = None,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 8,
    cache_path: Optional[str] = None,
    limit: Optional[int] = None,
    timeout: float = 120.0,
    max_retries: int = 4,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Translate the labelled splits of ``data_dir/<corpus>`` into ``out/<corpus>_zh/`` (``out``
    defaults to ``data_dir``); returns ``{"splits": {split: counts}, "requests_sent", "out"}``. Raises :class:`LLMError` (one line) when
    the endpoint is unreachable, refuses the key or does not serve the model."""
    out_dir = Path(out or data_dir) / translated_name(corpus)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_file = Path(cache_path) if cache_path else out_dir / "translate_cache.sqlite"
    with tempfile.TemporaryDirectory(prefix=f"chinchilla-translate-{corpus}-") as scratch:
        builder, splits_records = source_records(data_dir, corpus, splits, scratch, limit)
        _write_atomic(out_dir / "schema.json",
                      json.dumps(translated_schema(builder, builder.label_schema()), ensure_ascii=False, indent=1).encode())

        async def run() -> dict:
            async with ChatClient(endpoint, model, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout,
                                  max_retries=max_retries) as client:
                await client.check()
                with ResponseCache(cache_file) as cache:
                    translator = Translator(client, cache)
                    counts = await _translate_splits(translator, corpus, splits_records, out_dir, concurrency, progress, log)
                return {"splits": counts, "requests_sent": client.requests_sent, "out": str(out_dir)}

        return asyncio.run(run())
