"""Reading source files line by line, with line numbers, whatever their encoding and line endings.

Readers never raise on a bad record: they yield a :class:`Reject` carrying the reason, so the
build can account for every line (read = written + rejected).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Iterator

import orjson


@dataclass(frozen=True)
class Reject:
    """A source record that cannot be converted, and why."""

    reason: str


def sniff_encoding(path: str) -> str:
    """UTF-8 (with or without BOM) unless more non-ASCII lines of the file's start are GB18030 than
    UTF-8; then GB18030.

    Older Chinese corpora (SIGHAN, BosonNLP readmes) ship GBK files; GB18030 is its superset. The
    lines vote, rather than the first invalid byte deciding: GB18030 decodes almost any bytes, so a
    UTF-8 file with one corrupt line would otherwise be read whole as mojibake. A UTF-8 file stays
    UTF-8 and its corrupt lines are rejected one by one; lines valid in neither do not vote.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    lines = head.split(b"\n")
    votes = {"utf-8": 0, "gb18030": 0}
    for i, line in enumerate(lines):
        if line.isascii():
            continue
        # The head may end inside a character of a line that goes on.
        final = not (len(head) == 1 << 16 and i == len(lines) - 1)
        for encoding in votes:
            try:
                codecs.getincrementaldecoder(encoding)().decode(line, final=final)
                votes[encoding] += 1
                break
            except UnicodeDecodeError:
                continue
    if votes["gb18030"] > votes["utf-8"]:
        return "gb18030"
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


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


def read_nonblank_lines(path: str) -> Iterator[tuple]:
    """``read_lines`` without blank lines (they are separators, not records); rejects pass through."""
    for line_no, line in read_lines(path):
        if isinstance(line, Reject) or line.strip():
            yield line_no, line


def read_json_lines(path: str) -> Iterator[tuple]:
    """Yield ``(line_no, dict)`` for each non-blank line, or ``(line_no, Reject)``."""
    for line_no, line in read_nonblank_lines(path):
        if isinstance(line, Reject):
            yield line_no, line
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


def read_json_array(path: str) -> Iterator[tuple]:
    """Yield ``(record_no, dict)`` (1-based position in the array) or ``(record_no, Reject)`` for a
    file holding ONE JSON array of objects (SpERT-style splits, often on a single line, so the
    record's position, not the line, locates it).

    The array is decoded one element at a time, so the records before a corruption are kept: an
    element that is not valid JSON rejects itself and the rest of the file (one Reject saying so,
    as the array cannot be resynchronised), text after the closing ``]`` is one Reject, and so are
    a file that is not an array and an empty array (nothing may vanish silently). Bytes that do not
    decode end the readable text there: records before them are kept, the rest is one Reject."""
    encoding = sniff_encoding(path)
    with open(path, "rb") as f:
        data = f.read()
    undecodable = ""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        text = data[: err.start].decode(encoding)
        undecodable = f"not valid {encoding}: {err.reason} at byte {err.start}"
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        found = text[position : position + 20]
        yield 1, Reject(undecodable or (f"expected a JSON array of records, found {found!r}" if found else "expected a JSON array of records, found nothing"))
        return
    position, record_no = _skip_space(text, position + 1), 0
    while not text.startswith("]", position):
        record_no += 1
        if record_no > 1:
            if not text.startswith(",", position):
                fault = undecodable if position >= len(text) and undecodable else f"expected ',' or ']' at character {position}, found {text[position:position + 20]!r}"
                yield record_no, Reject(f"record {record_no} and after: {fault}")
                return
            position = _skip_space(text, position + 1)
        try:
            record, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as err:
            yield record_no, Reject(f"record {record_no} and after: {undecodable or f'invalid JSON: {err}'}")
            return
        if isinstance(record, dict):
            yield record_no, record
        else:
            yield record_no, Reject(f"record {record_no}: expected a JSON object, got {type(record).__name__}")
        position = _skip_space(text, position)
    if record_no == 0:
        yield 1, Reject("an empty JSON array: no record")
    rest = _skip_space(text, position + 1)
    if rest < len(text) or undecodable:
        yield record_no + 1, Reject(f"text after the end of the JSON array at character {rest}: {text[rest:rest + 20]!r}" + (f" ({undecodable})" if undecodable else ""))


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n\ufeff":
        position += 1
    return position


def read_blocks(path: str) -> Iterator[tuple]:
    """Yield ``(first_line_no, [line, ...])`` for blank-line separated blocks (CoNLL style), or
    ``(first_line_no, Reject)`` for a block holding a line that cannot be decoded: the block is
    rejected whole, as a record with a line missing cannot be trusted (tags would be realigned)."""
    block, start, bad = [], None, None
    for line_no, line in read_lines(path):
        if isinstance(line, Reject):
            if start is None:
                start = line_no
            bad = bad or Reject(f"line {line_no}: {line.reason}")
            continue
        if line.strip():
            if start is None:
                start = line_no
            block.append(line)
        elif start is not None:
            yield start, bad or block
            block, start, bad = [], None, None
    if start is not None:
        yield start, bad or block


def read_event_schema(path: str) -> dict:
    """A DuEE-style event schema (JSON Lines ``{"event_type", "role_list": [{"role"}]}``) as a label schema."""
    types, roles = [], {}
    for _, record in read_json_lines(path):
        if isinstance(record, Reject) or "event_type" not in record:
            continue
        event_type, role_list = record["event_type"], record.get("role_list")
        # A malformed line is skipped like an invalid one: the schema only lists labels.
        if not isinstance(event_type, str) or event_type in roles:
            continue
        types.append([event_type, event_type])
        role_list = role_list if isinstance(role_list, list) else []
        roles[event_type] = [r["role"] for r in role_list if isinstance(r, dict) and isinstance(r.get("role"), str)]
    return {"types": types, "roles": roles}
