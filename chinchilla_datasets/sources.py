"""Reading source files line by line, with line numbers, whatever their encoding and line endings.

Source files are untrusted input. Readers never raise on a bad record: they yield a :class:`Reject`
carrying the reason, so the build can account for every line (read = written + rejected). Lines
are read in bounded chunks: a line longer than ``MAX_LINE_BYTES`` is rejected with its line number
without ever being held whole in memory. A file that cannot be read at all (permissions, an I/O
error, a corrupt archive: see ``archives.py``) raises :class:`SourceError`, which fails its corpus
with one line while the rest of the collection builds.

Encodings: UTF-8 with or without BOM, UTF-16 LE/BE with a BOM (what some Windows editors save), and
GBK/GB18030 (older Chinese corpora) when most non-ASCII lines of the file's start decode so.
"""

from __future__ import annotations

import bisect
import codecs
import itertools
import json
import os
from dataclasses import dataclass
from typing import BinaryIO, Collection, Iterator, Optional

import orjson

# A line longer than this is rejected unread (the longest real record, a DuEE-fin document, is
# well under 1 MiB); memory while reading stays at about this plus READ_CHUNK.
MAX_LINE_BYTES = 16 << 20
# A file read whole as one document (brat, XML) may be at most this large.
MAX_DOCUMENT_BYTES = 64 << 20
READ_CHUNK = 1 << 20
# A rejection reason longer than this is cut (with its length noted): a reason quoting a 50 MB
# token must not make a 50 MB build report.
MAX_REASON_CHARS = 500
# Encodings read with a byte order mark, and the mark; the reader skips it.
BOMS = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-8-sig": codecs.BOM_UTF8}


class SourceError(Exception):
    """A source file or archive that cannot be read at all. The message is one line,
    ``<file>: <what is wrong>``; the build fails that file's corpus with it and builds the others."""


@dataclass(frozen=True)
class Reject:
    """A source record that cannot be converted, and why."""

    reason: str


def short_reason(reason: str, limit: int = MAX_REASON_CHARS) -> str:
    """``reason``, cut to ``limit`` characters with its full length noted when longer."""
    if len(reason) <= limit:
        return reason
    return f"{reason[:limit]}… (reason cut: {len(reason)} characters)"


def sniff_encoding(path: str) -> str:
    """``utf-16-le`` / ``utf-16-be`` for a file starting with a UTF-16 byte order mark; else UTF-8
    (with or without BOM) unless more non-ASCII lines of the file's start are GB18030 than UTF-8;
    then GB18030.

    A UTF-16 BOM is never valid UTF-8 or GB18030 (0xFF is not a lead byte in either), so it decides
    when what follows reads as UTF-16 text (see :func:`_reads_as_utf16`): undecodable bytes at the
    start of a UTF-8 file must cost that line only, not turn the whole file into UTF-16 mojibake.
    Older Chinese corpora (SIGHAN, BosonNLP readmes) ship GBK files; GB18030 is its superset. The
    lines vote, rather than the first invalid byte deciding: GB18030 decodes almost any bytes, so a
    UTF-8 file with one corrupt line would otherwise be read whole as mojibake. A UTF-8 file stays
    UTF-8 and its corrupt lines are rejected one by one; lines valid in neither do not vote.
    Raises :class:`SourceError` when the file cannot be read.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as err:
        raise SourceError(f"{os.path.basename(path)}: cannot read: {err.strerror or err}") from err
    for encoding in ("utf-16-le", "utf-16-be"):
        if head.startswith(BOMS[encoding]) and _reads_as_utf16(head[2:], encoding, whole=len(head) < 1 << 16):
            return encoding
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


def _reads_as_utf16(body: bytes, encoding: str, whole: bool) -> bool:
    """Whether ``body`` (the head after a UTF-16 BOM) decodes as ``encoding`` and looks like UTF-16:
    it holds a UTF-16 newline, or a NUL byte (every ASCII character has one in UTF-16; UTF-8 and
    GB18030 text never does), or no 0x0A byte at all. UTF-8 text behind stray BOM-like bytes has
    0x0A bytes but neither of the others. (Not recognised: a one-line UTF-16 file without any ASCII
    character whose 0x0A bytes are all inside characters, e.g. U+4E0A; it is rejected as invalid
    UTF-8, never misread.)"""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(body, final=whole)
    except UnicodeDecodeError:
        return False
    return "\n" in text or b"\x00" in body or b"\n" not in body


def byte_lines(f: BinaryIO, newline: bytes = b"\n", max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Optional[bytes]]:
    """The lines of a binary stream without their ``newline``, read ``READ_CHUNK`` bytes at a time;
    None for a line longer than ``max_line_bytes``, whose bytes are skipped, never held whole.

    ``newline`` is the encoded ``\\n``: two bytes for UTF-16, found only at even offsets (the
    stream starts at a character boundary), so a ``0x0A`` byte inside a character never cuts a line."""
    width = len(newline)
    buffer = bytearray()  # starts at a line start, so at a character boundary
    too_long = False  # the line being read has passed the limit; skip to its end
    while True:
        chunk = f.read(READ_CHUNK)
        buffer += chunk
        start = 0
        while (at := _find_aligned(buffer, newline, start)) >= 0:
            yield None if too_long or at - start > max_line_bytes else bytes(buffer[start:at])
            too_long = False
            start = at + width
        del buffer[:start]
        if not chunk:
            break
        if len(buffer) - (width - 1) > max_line_bytes:  # (its last bytes may begin the newline)
            too_long = True
            # Keep an odd trailing byte: it may begin a newline that the next chunk completes.
            del buffer[: len(buffer) - len(buffer) % width]
    if too_long or len(buffer) > max_line_bytes:
        yield None
    elif buffer:
        yield bytes(buffer)


def _find_aligned(buffer: bytearray, newline: bytes, start: int) -> int:
    at = buffer.find(newline, start)
    while at >= 0 and at % len(newline):
        at = buffer.find(newline, at + 1)
    return at


def read_lines(path: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple]:
    """Yield ``(line_no, line)`` (1-based, line ending removed) or ``(line_no, Reject)``; a line
    longer than ``max_line_bytes`` bytes is rejected without being read whole. Raises
    :class:`SourceError` when the file cannot be read."""
    try:
        encoding = sniff_encoding(path)
        newline = "\n".encode(encoding.replace("-sig", ""))
        with open(path, "rb") as f:
            head = f.read(len(BOMS.get(encoding, codecs.BOM_UTF8)))
            # A UTF-8 BOM is skipped whatever the lines voted (a GBK file saved with one).
            if head not in (BOMS.get(encoding), codecs.BOM_UTF8):
                f.seek(0)
            for line_no, raw in enumerate(byte_lines(f, newline, max_line_bytes), 1):
                if raw is None:
                    yield line_no, Reject(f"line longer than {max_line_bytes} bytes (the limit): not read")
                    continue
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as err:
                    yield line_no, Reject(f"not valid {encoding}: {err.reason} at byte {err.start}")
                    continue
                yield line_no, line.rstrip("\r\n")
    except OSError as err:
        raise SourceError(f"{os.path.basename(path)}: cannot read: {err.strerror or err}") from err


def read_document(path: str, max_bytes: int = MAX_DOCUMENT_BYTES):
    """The whole text of a one-document file (brat ``.txt``/``.ann``, an XML file), decoded like
    :func:`read_lines` (the encoding :func:`sniff_encoding` finds, its BOM dropped) with its line
    endings kept, since the document's offsets count them; or a :class:`Reject` naming the first
    undecodable line, or a file over ``max_bytes`` (not read). Raises :class:`SourceError` when the
    file cannot be read."""
    try:
        if os.path.getsize(path) > max_bytes:
            return Reject(f"line 1: document larger than {max_bytes} bytes (the limit): not read")
        encoding = sniff_encoding(path)
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise SourceError(f"{os.path.basename(path)}: cannot read: {err.strerror or err}") from err
    for bom in (BOMS.get(encoding), codecs.BOM_UTF8):
        if bom and data.startswith(bom):
            data = data[len(bom):]
            break
    try:
        return data.decode(encoding.replace("-sig", ""))
    except UnicodeDecodeError as err:
        line_no = data.count("\n".encode(encoding.replace("-sig", "")), 0, err.start) + 1
        return Reject(f"line {line_no}: not valid {encoding}: {err.reason} at byte {err.start}")


def read_nonblank_lines(path: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple]:
    """``read_lines`` without blank lines (they are separators, not records); rejects pass through."""
    for line_no, line in read_lines(path, max_line_bytes):
        if isinstance(line, Reject) or line.strip():
            yield line_no, line


def read_json_lines(path: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple]:
    """Yield ``(line_no, dict)`` for each non-blank line, or ``(line_no, Reject)``."""
    for line_no, line in read_nonblank_lines(path, max_line_bytes):
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


def _decoded_lines(path: str) -> tuple:
    """``([line, ...], {line_no: reason})``: the lines of a file as ``read_lines`` gives them (line
    endings removed), an undecodable (or overlong) line replaced by a marker and its reason kept. A
    file that decodes whole is decoded in one call (the common case, and several times faster); a
    JSON array is read whole anyway, as its records span lines."""
    encoding = sniff_encoding(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise SourceError(f"{os.path.basename(path)}: cannot read: {err.strerror or err}") from err
    for bom in (BOMS.get(encoding), codecs.BOM_UTF8):  # (a UTF-8 BOM is skipped whatever the lines voted)
        if bom and data.startswith(bom):
            data = data[len(bom) :]
            break
    try:
        decoded = data.decode(encoding.replace("-sig", ""))
    except UnicodeDecodeError:
        contents, bad_lines = [], {}
        for line_no, line in read_lines(path):
            if isinstance(line, Reject):
                bad_lines[line_no] = line.reason
                line = _UNDECODABLE_LINE
            contents.append(line)
        return contents, bad_lines
    contents = decoded.split("\n")
    if decoded.endswith("\n"):
        contents.pop()
    if "\r" in decoded:
        contents = [line.rstrip("\r") for line in contents]
    return contents, {}


def read_json_array_lines(path: str) -> Iterator[tuple]:
    """Yield ``(line_no, dict)`` for each object of a file holding ONE JSON array of objects laid
    out over lines (CBLUE's CMeEE, CHIP-CDEE: pretty-printed with a 2-space indent, no final
    newline; or one record per line), or ``(line_no, Reject)``. (A one-line array, CoNLL04's, is
    :func:`read_json_array`'s: its records are keyed by position.)

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
    contents, bad_lines = _decoded_lines(path)
    starts = [0, *itertools.accumulate(len(line) + 1 for line in contents[:-1])]
    text = "\n".join(contents)
    decoder = json.JSONDecoder()

    def line_at(pos: int) -> int:  # 1-based line of a character position
        return bisect.bisect_right(starts, pos)

    def opening(line_no: int) -> Optional[int]:  # indentation of a line opening a record, else None
        line = contents[line_no - 1]
        stripped = line.lstrip(" \t\ufeff\u3000")
        return len(line) - len(stripped) if stripped.lstrip("[, \t").startswith("{") else None

    # The indentation of the lines opening records: that of the last record read, else (a broken
    # first record) the smallest of the file's, as nested objects of a pretty-printed file sit deeper.
    record_indent = None

    def next_record_line(after: int) -> Optional[int]:
        nonlocal record_indent
        if record_indent is None:
            record_indent = min((i for i in map(opening, range(1, len(contents) + 1)) if i is not None), default=0)
        for line_no in range(after + 1, len(contents) + 1):
            indent = opening(line_no)
            if indent is not None and indent <= record_indent:
                return line_no
        return None

    def undecodable(first: int, last: int) -> Optional[str]:
        for line_no in range(first, last + 1):
            if line_no in bad_lines:
                return f"line {line_no}: {bad_lines[line_no]}"
        return None

    pos, yielded = _skip_space(text, 0, _BETWEEN_RECORDS), False
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
            pos = _skip_space(text, starts[resume - 1], _BETWEEN_RECORDS) if resume else len(text)
            continue
        end_line = line_at(end - 1)
        line_end = starts[end_line] - 1 if end_line < len(starts) else len(text)
        rest = text[end:line_end]
        if undecodable(line_no, end_line):
            record = Reject(undecodable(line_no, end_line))
        elif rest.strip(" \t\r,[]\u3000"):
            # (another record on the same line included: a line holds at most one record)
            record = Reject(f"unexpected text after the record on line {end_line}: {rest.strip()!r:.60}")
        elif opening(line_no) is not None:
            record_indent = opening(line_no)
        yield line_no, record
        yielded = True
        pos = _skip_space(text, line_end, _BETWEEN_RECORDS)
    if not yielded and text.strip(" \t\r\n\ufeff\u3000"):
        first = next(i for i, line in enumerate(contents, 1) if line.strip(" \t\r\ufeff\u3000"))
        yield first, Reject(undecodable(1, len(contents)) or "no JSON object in the file (expected an array of records)")

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


def _skip_space(text: str, position: int, chars: Collection[str] = " \t\r\n\ufeff") -> int:
    """The first position from ``position`` on whose character is not in ``chars``."""
    while position < len(text) and text[position] in chars:
        position += 1
    return position


def read_blocks(path: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple]:
    """Yield ``(first_line_no, [line, ...])`` for blank-line separated blocks (CoNLL style), or
    ``(first_line_no, Reject)`` for a block holding a line that cannot be decoded: the block is
    rejected whole, as a record with a line missing cannot be trusted (tags would be realigned)."""
    block, start, bad = [], None, None
    for line_no, line in read_lines(path, max_line_bytes):
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
