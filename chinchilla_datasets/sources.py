"""Reading source files line by line, with line numbers, whatever their encoding and line endings.

Readers never raise on a bad record: they yield a :class:`Reject` carrying the reason, so the
build can account for every line (read = written + rejected).
"""

from __future__ import annotations

import bisect
import codecs
import json
from dataclasses import dataclass
from typing import Iterator, Optional

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


def read_document(path: str):
    """The whole text of a one-document file (brat ``.txt``/``.ann``, an XML file), decoded like
    :func:`read_lines` (UTF-8 unless the lines vote GB18030; a UTF-8 BOM dropped) with its line
    endings kept, since the document's offsets count them; or a :class:`Reject` naming the first
    undecodable line."""
    encoding = sniff_encoding(path)
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    try:
        return data.decode("utf-8" if encoding == "utf-8-sig" else encoding)
    except UnicodeDecodeError as err:
        line_no = data.count(b"\n", 0, err.start) + 1
        return Reject(f"line {line_no}: not valid {encoding}: {err.reason} at byte {err.start}")


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


# Characters between the records of a JSON array: skipped wherever they are, so a file cut and
# re-joined at record boundaries (or JSON Lines, with no brackets at all) reads the same.
_BETWEEN_RECORDS = frozenset(" \t\r\n\f\v\u3000\ufeff,[]")
# Stands in for an undecodable line, so no JSON value can span it (its record is rejected whole).
_UNDECODABLE_LINE = "\x01"


def read_json_array(path: str) -> Iterator[tuple]:
    """Yield ``(line_no, dict)`` for each object of a file holding ONE JSON array of objects
    (CBLUE's CMeEE, CHIP-CDEE: pretty-printed with a 2-space indent, no final newline), or
    ``(line_no, Reject)``.

    The "line" of a record is the 1-based line of its opening ``{`` (keys and ids stay stable when
    records are added elsewhere, and a rejection points at the record in an editor). The reader is
    tolerant in the way ``read_json_lines`` is: one broken record costs only itself. Each record is
    parsed on its own; when one is not valid JSON (or holds an undecodable line), it is rejected
    from its line up to the next line opening a record at the records' indentation, and reading
    goes on from there. Text outside the records is rejected the same way, with its line. The
    array's brackets and commas are not required (JSON Lines reads too); text after a record on
    the line where it ends (a second record included) rejects that record, as its line would not
    tell the two apart.
    """
    contents, bad_lines, starts = [], {}, []
    position = 0
    for line_no, line in read_lines(path):
        if isinstance(line, Reject):
            bad_lines[line_no] = line.reason
            line = _UNDECODABLE_LINE
        starts.append(position)
        contents.append(line)
        position += len(line) + 1
    text = "\n".join(contents)
    decoder = json.JSONDecoder()

    def line_at(pos: int) -> int:  # 1-based line of a character position
        return bisect.bisect_right(starts, pos)

    def opening(line_no: int) -> Optional[int]:  # indentation of a line opening a record, else None
        line = contents[line_no - 1]
        stripped = line.lstrip(" \t\ufeff\u3000")
        return len(line) - len(stripped) if stripped.lstrip("[, \t").startswith("{") else None

    indents = [i for i in map(opening, range(1, len(contents) + 1)) if i is not None]
    record_indent = min(indents, default=0)  # nested objects of a pretty-printed file sit deeper

    def next_record_line(after: int) -> Optional[int]:
        for line_no in range(after + 1, len(contents) + 1):
            indent = opening(line_no)
            if indent is not None and indent <= record_indent:
                return line_no
        return None

    def skip_between(pos: int) -> int:
        while pos < len(text) and text[pos] in _BETWEEN_RECORDS:
            pos += 1
        return pos

    def undecodable(first: int, last: int) -> Optional[str]:
        for line_no in range(first, last + 1):
            if line_no in bad_lines:
                return f"line {line_no}: {bad_lines[line_no]}"
        return None

    pos, yielded = skip_between(0), False
    while pos < len(text):
        line_no = line_at(pos)
        record = None
        if text[pos] == "{":
            try:
                record, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as err:
                reason = f"invalid JSON at line {line_at(err.pos)} column {err.pos - starts[line_at(err.pos) - 1] + 1}: {err.msg}"
        else:
            line_end = starts[line_no] - 1 if line_no < len(starts) else len(text)
            reason = f"text outside the records: {text[pos:line_end]!r:.60}"
        if record is None:  # skip to the next line opening a record
            resume = next_record_line(line_no)
            last = resume - 1 if resume else len(contents)
            yield line_no, Reject(undecodable(line_no, last) or reason)
            yielded = True
            pos = skip_between(starts[resume - 1]) if resume else len(text)
            continue
        end_line = line_at(end - 1)
        line_end = starts[end_line] - 1 if end_line < len(starts) else len(text)
        rest = text[end:line_end]
        if undecodable(line_no, end_line):
            record = Reject(undecodable(line_no, end_line))
        elif rest.strip(" \t\r,[]\u3000"):
            # (another record on the same line included: a line holds at most one record)
            record = Reject(f"unexpected text after the record on line {end_line}: {rest.strip()!r:.60}")
        else:
            record_indent = opening(line_no) if opening(line_no) is not None else record_indent
        yield line_no, record
        yielded = True
        pos = skip_between(line_end)
    if not yielded and text.strip(" \t\r\n\ufeff\u3000"):
        first = next(i for i, line in enumerate(contents, 1) if line.strip(" \t\r\ufeff\u3000"))
        yield first, Reject(undecodable(1, len(contents)) or "no JSON object in the file (expected an array of records)")


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
