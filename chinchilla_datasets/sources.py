"""Reading source files line by line, with line numbers, whatever their encoding and line endings.

Readers never raise on a bad record: they yield a :class:`Reject` carrying the reason, so the
build can account for every line (read = written + rejected).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Iterator

import orjson


@dataclass(frozen=True)
class Reject:
    """A source record that cannot be converted, and why."""

    reason: str


def sniff_encoding(path: str) -> str:
    """UTF-8 (with or without BOM) unless the file's start is not valid UTF-8; then GB18030.

    Older Chinese corpora (SIGHAN, BosonNLP readmes) ship GBK files; GB18030 is its superset.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def read_lines(path: str) -> Iterator[tuple]:
    """Yield ``(line_no, line)`` (1-based, line ending removed) or ``(line_no, Reject)``."""
    encoding = sniff_encoding(path)
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as err:
                yield line_no, Reject(f"not valid {encoding}: {err.reason} at byte {err.start}")
                continue
            yield line_no, line.rstrip("\r\n")


def read_json_lines(path: str) -> Iterator[tuple]:
    """Yield ``(line_no, dict)`` for each non-blank line, or ``(line_no, Reject)``."""
    for line_no, line in read_lines(path):
        if isinstance(line, Reject):
            yield line_no, line
            continue
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as err:
            yield line_no, Reject(f"invalid JSON: {err}")
            continue
        if not isinstance(record, dict):
            yield line_no, Reject(f"expected a JSON object, got {type(record).__name__}")
            continue
        yield line_no, record


def read_blocks(path: str) -> Iterator[tuple]:
    """Yield ``(first_line_no, [line, ...])`` for blank-line separated blocks (CoNLL style)."""
    block, start = [], None
    for line_no, line in read_lines(path):
        if isinstance(line, Reject):
            yield line_no, line
            continue
        if line.strip():
            if start is None:
                start = line_no
            block.append(line)
        elif block:
            yield start, block
            block, start = [], None
    if block:
        yield start, block


def read_event_schema(path: str) -> dict:
    """A DuEE-style event schema (JSON Lines ``{"event_type", "role_list": [{"role"}]}``) as a label schema."""
    types, roles = [], {}
    for _, record in read_json_lines(path):
        if isinstance(record, Reject) or "event_type" not in record:
            continue
        event_type = record["event_type"]
        if event_type not in roles:
            types.append([event_type, event_type])
            roles[event_type] = [r["role"] for r in record.get("role_list") or [] if "role" in r]
    return {"types": types, "roles": roles}
