"""Hostile input (issue 6): every registered builder's reader, fed random and corrupted copies of its
own fixture files, never crashes, accounts for every record and keeps the good ones.

Builders come from ``registry.builders()`` at collection time, so a new corpus is covered as soon as
its module and fixtures (``chinchilla_datasets/fixtures/<corpus>*/``, official file names) exist.
The generators (``raw_records`` / ``unified_records``) are driven directly; ``download_and_prepare``
and ``chinchilla build`` only where the full build is what is tested (missing files, a wrong-format
or wholly rejected file).

Every run is checked against the same contract (:func:`check`): no exception escapes the
generators; ``read == written + len(rejected)``; every rejection names the file, a line of it and a
non-empty reason; every conversion failure is reported; ids are unique; raw and unified rows fit
the Arrow columns of their features (types, int32 ranges); every unified span satisfies
``text[start:end] == mention`` or has null offsets; and a file with any content reads at least one
record (nothing vanishes silently).
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import datasets
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chinchilla_datasets import UNIFIED_FEATURES
from chinchilla_datasets.cli import main
from chinchilla_datasets.collection import bundled_fixtures
from chinchilla_datasets.outputs import REPORT_FILE
from chinchilla_datasets.registry import builders
from chinchilla_datasets.schema import spans_of
from chinchilla_datasets.sources import sniff_encoding

NAMES = list(builders())
FIXTURES = bundled_fixtures()
# HOSTILE_EXAMPLES=500 for a deeper hunt; the default keeps the file well under 40 s.
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "30"))
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
UNDECODABLE = b"\xff\xfe\x80"  # invalid in UTF-8 and in GB18030 alike
JUNK = (UNDECODABLE + bytes(range(0x80, 0x100)) + b"\n") * 3  # no line of it decodes


# ---------------------------------------------------------------- fixture files
@dataclass(frozen=True)
class SourceFile:
    """One fixture file of a builder, under its official name, and the splits that read it (several
    when one file holds every split, as BosonNLP's inline file)."""

    name: str
    splits: tuple
    data: bytes


def splits_of(name: str, file_name: str) -> tuple:
    return tuple(split for split, names in builders()[name].corpus.files.items() if file_name in names)


def official_files(name: str) -> list:
    """Every split file name the builder can read (each once)."""
    return list(dict.fromkeys(f for names in builders()[name].corpus.files.values() for f in names))


def fixture_folders(name: str) -> list:
    return [
        d
        for d in sorted(FIXTURES.iterdir())
        if d.is_dir() and (d.name == name or (d.name.startswith(f"{name}_") and d.name not in NAMES))
    ]


@lru_cache(maxsize=None)
def fixture_files(name: str) -> tuple:
    """The fixture files of corpus ``name`` (every official name found, all formats): in
    ``fixtures/<name>/`` or ``fixtures/<name>_*/`` (a second format of the corpus, e.g. ``msra_ner_bio``),
    never in another registered corpus's folder."""
    found = []
    for file_name in official_files(name):
        for folder in fixture_folders(name):
            if (folder / file_name).is_file():
                found.append(SourceFile(file_name, splits_of(name, file_name), (folder / file_name).read_bytes()))
                break
    return tuple(found)


def is_labelled(name: str, source: SourceFile) -> bool:
    return any(split not in builders()[name].corpus.unlabelled_splits for split in source.splits)


def split_lines(data: bytes) -> tuple:
    """``(lines, final_newline)``: the byte lines of a file without their ``\\n`` (a ``\\r`` stays)."""
    final = data.endswith(b"\n")
    body = data[:-1] if final else data
    return (body.split(b"\n") if body else []), final


def join_lines(lines: list, final: bool = True) -> bytes:
    return b"\n".join(lines) + (b"\n" if final and lines else b"")


def has_blocks(data: bytes) -> bool:
    """Whether records are blank-line separated blocks: a blank line between two non-blank ones."""
    lines = [bool(line.strip()) for line in split_lines(data)[0]]
    first, last = (lines.index(True), len(lines) - 1 - lines[::-1].index(True)) if any(lines) else (0, -1)
    return not all(lines[first : last + 1])


def units(data: bytes) -> list:
    """The record units of a file: blank-line separated blocks (CoNLL-style files, FinRE's blank line
    after every record), else non-blank single lines."""
    lines, _ = split_lines(data)
    if not has_blocks(data):
        return [[line] for line in lines if line.strip()]
    blocks, block = [], []
    for line in lines:
        if line.strip():
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    return blocks


def join_units(parts: list, blocks: bool) -> bytes:
    return (b"\n\n" if blocks else b"\n").join(b"\n".join(unit) for unit in parts) + b"\n"


def has_content(data: bytes, encoding: str) -> bool:
    """Whether the file holds anything but whitespace, read in the encoding the readers sniff."""
    return bool(data.decode(encoding, errors="replace").replace("\ufeff", "").strip())


# ---------------------------------------------------------------- running a builder
@dataclass
class Outcome:
    """What one split's generators gave for one file."""

    raws: list  # [(key, raw record)]
    report: dict  # the raw run's report
    unified: list  # [(key, unified record)]; [] for an unlabelled split
    unified_report: dict  # the unified run's report; {} for an unlabelled split


class Harness:
    """One builder of one corpus and a scratch folder holding the file under test."""

    def __init__(self, name: str, folder: Path):
        self.name = name
        self.cls = builders()[name]
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.builder = self.cls(config_name=f"{name}_unified", data_dir=str(folder), cache_dir=str(folder / ".cache"))
        self._baselines: dict = {}
        self._alone: dict = {}  # (file name, unit) -> unified records of that unit alone in the file

    def run(self, file_name: str, data: bytes) -> dict:
        """``{split: Outcome}`` for every split that reads ``file_name``, holding ``data``; each run is
        checked against the contract (:func:`check`)."""
        path = self.folder / file_name
        path.write_bytes(data)
        try:
            outcomes = {split: self._run_split(str(path), split) for split in splits_of(self.name, file_name)}
            content = has_content(data, sniff_encoding(str(path)))
        finally:
            path.unlink()
        for split, outcome in outcomes.items():
            check(self.cls, file_name, split, data, outcome)
        if content:
            assert sum(o.report["read"] for o in outcomes.values()) >= 1, (
                "a file with content must not vanish without a record or a rejection"
            )
        return outcomes

    def baseline(self, source: SourceFile) -> dict:
        """The outcomes of the fixture file as it is (computed once)."""
        if source.name not in self._baselines:
            self._baselines[source.name] = self.run(source.name, source.data)
        return self._baselines[source.name]

    def unified_alone(self, source: SourceFile, unit: bytes) -> list:
        """The unified records (without ids) of one record unit alone in ``source``'s file (computed once)."""
        if (source.name, unit) not in self._alone:
            self._alone[source.name, unit] = all_unified(self.run(source.name, unit))
        return self._alone[source.name, unit]

    def _run_split(self, path: str, split: str) -> Outcome:
        builder = self.builder
        builder.report = {}
        raws = list(builder.raw_records(path, split))
        report = builder.report.get(split, {"read": 0, "written": 0, "rejected": []})
        unified, unified_report = [], {}
        if split not in self.cls.corpus.unlabelled_splits:
            builder.report = {}
            unified = list(builder.unified_records(path, split))
            unified_report = builder.report[split]
        return Outcome(raws, report, unified, unified_report)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    made = {}

    def get(name: str) -> Harness:
        if name not in made:
            made[name] = Harness(name, tmp_path_factory.mktemp(f"hostile-{name}"))
        return made[name]

    return get


UNIFIED_SCHEMA = UNIFIED_FEATURES.arrow_schema


@lru_cache(maxsize=None)
def raw_schema(name: str) -> pa.Schema:
    return builders()[name].raw_features.arrow_schema


def assert_writable(features: datasets.Features, schema: pa.Schema, rows: list) -> None:
    """Rows fit the Arrow columns of their features (types, int ranges), as the writer of
    ``download_and_prepare`` needs; an int32 offset past 2**31 would crash it."""
    pa.Table.from_pylist([features.encode_example(row) for row in rows], schema=schema)


def assert_span_valid(record: dict, span: dict) -> None:
    start, end = span["start"], span["end"]
    if start is None or end is None:
        assert start is None and end is None, (record["id"], span)
        return
    assert 0 <= start <= end <= len(record["text"]), (record["id"], span)
    assert record["text"][start:end] == span["text"], (record["id"], span)


def check(cls, file_name: str, split: str, data: bytes, outcome: Outcome) -> None:
    """The contract every run must satisfy, whatever the input."""
    name = cls.corpus.name
    line_count = max(1, len(split_lines(data)[0]))
    report = outcome.report
    # Accounting: every record read is written or rejected with file, line and reason.
    assert report["read"] == report["written"] + len(report["rejected"]), report
    assert report["written"] == len(outcome.raws)
    for rejection in report["rejected"] + outcome.unified_report.get("unified_rejected", []):
        assert rejection["file"] == file_name, rejection
        if cls.record_unit == "line":
            assert isinstance(rejection["line"], int) and 1 <= rejection["line"] <= line_count, rejection
        else:  # a position in a one-line JSON array, or a document's number (see ChinchillaBuilder.record_unit)
            assert isinstance(rejection["line"], int) and rejection["line"] >= 0, rejection
        assert isinstance(rejection["reason"], str) and rejection["reason"].strip(), rejection
    keys = [key for key, _ in outcome.raws]
    assert len(keys) == len(set(keys)), "raw keys must be unique"
    assert_writable(cls.raw_features, raw_schema(name), [raw for _, raw in outcome.raws])
    if split in cls.corpus.unlabelled_splits:
        return
    # The unified run reads the same records and accounts for every conversion.
    unified_report = outcome.unified_report
    for key in ("read", "written", "rejected"):
        assert unified_report[key] == report[key], key
    expected = len({raw[cls.group_by] for _, raw in outcome.raws}) if cls.group_by else len(outcome.raws)
    assert unified_report["unified"] == len(outcome.unified)
    assert unified_report["unified"] + len(unified_report["unified_rejected"]) == expected
    records = [record for _, record in outcome.unified]
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)), "unified ids must be unique"
    for key, record in outcome.unified:
        assert record["id"] == f"{name}-{split}-{key}"
        assert record["corpus"] == name and record["task"] == cls.corpus.task
        assert isinstance(record["text"], str)
        for span in spans_of(record):
            assert_span_valid(record, span)
    assert_writable(UNIFIED_FEATURES, UNIFIED_SCHEMA, records)


def without_id(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "id"}


def canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- strategies
@lru_cache(maxsize=None)
def corpus_alphabet(name: str) -> list:
    """The characters that matter to this corpus's format: its fixture characters, separators, JSON
    punctuation, tag letters and invisible characters, so random text hits the parser's paths."""
    chars = set()
    for source in fixture_files(name):
        chars |= set(source.data.decode("utf-8", errors="ignore"))
    chars -= {"\n"}
    return sorted(chars | set(" \t\r{}[]\":,/-0123456789OBIMES\u3000\ufeff\u200b\x00"))


@lru_cache(maxsize=None)
def tag_tokens(name: str) -> list:
    """The tag names of a tagged corpus (ClassLabel names of its raw features), plus malformed ones."""
    found = []

    def walk(feature):
        if isinstance(feature, datasets.ClassLabel):
            found.extend(feature.names)
        elif isinstance(feature, (dict, datasets.Features)):
            for sub in feature.values():
                walk(sub)
        elif isinstance(feature, datasets.List):
            walk(feature.feature)

    walk(builders()[name].raw_features)
    return found + ["O", "B-", "-", "I-XYZ", "S-", "o", "nr", "ns", "nt", "/o", "unknown"]


def line_text(name: str, min_size: int = 0):
    """Random text of one line (no ``\\n``) from the corpus alphabet and arbitrary characters."""
    any_char = st.characters(exclude_categories=("Cs",), exclude_characters="\n")
    return st.text(st.sampled_from(corpus_alphabet(name)) | any_char, min_size=min_size, max_size=40)


def json_values():
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
    )
    return st.recursive(scalars, json_containers, max_leaves=6)


def json_containers(inner):
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


HOSTILE_INTS = [-1, -(2**31) - 1, 2**31, 2**31 - 1, 2**32, 2**53, 2**63 - 1, -(2**63), 2**64, 10**30]


def json_paths(value, prefix=()):
    """Every ``(path, value)`` inside a parsed JSON value, containers included."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_paths(v, prefix + (i,))


def set_path(root, path, value, delete=False):
    node = root
    for step in path[:-1]:
        node = node[step]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


@st.composite
def mutated_json(draw, record: dict, name: str):
    """One hostile change to a parsed JSON record: a key or element dropped, a value of the wrong type,
    an offset out of range, a mention absent from the text, or the record no longer an object."""
    record = json.loads(json.dumps(record))
    text = record.get("text") if isinstance(record.get("text"), str) else ""
    paths = [p for p, _ in json_paths(record) if p]
    op = draw(st.sampled_from(["delete", "retype", "offset", "absent", "not_object"]))
    if op == "not_object" or not paths:
        return draw(st.sampled_from([[record], record.get("text", 0), None, "text"]))
    if op == "offset":
        ints = [p for p, v in json_paths(record) if isinstance(v, int) and not isinstance(v, bool)]
        if ints:
            path = draw(st.sampled_from(ints))
            value = draw(st.sampled_from(HOSTILE_INTS) | st.integers(-3, len(text) + 3))
            set_path(record, path, value)
            return record
    if op == "absent":
        strings = [p for p, v in json_paths(record) if isinstance(v, str) and p != ("text",)]
        if strings:
            path = draw(st.sampled_from(strings))
            mention = draw(line_text(name, min_size=1).filter(lambda s: s not in text))
            set_path(record, path, mention)
            return record
    path = draw(st.sampled_from(paths))
    if op == "delete":
        set_path(record, path, None, delete=True)
    else:
        set_path(record, path, draw(json_values()))
    return record


@st.composite
def hostile_line(draw, line: bytes, name: str):
    """A hostile replacement of one non-blank line (no ``\\n`` in it)."""
    op = draw(st.sampled_from(["undecodable", "text", "truncate", "gbk", "fields", "json", "crlf"]))
    decoded = line.decode("utf-8", errors="replace")
    if op == "json":
        try:
            record = json.loads(decoded)
        except ValueError:
            record = None
        if isinstance(record, dict):
            value = draw(mutated_json(record, name))
            return json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8")
        op = "fields"
    if op == "undecodable":
        at = draw(st.integers(0, len(line)))
        return line[:at] + UNDECODABLE + line[at:]
    if op == "text":
        return draw(line_text(name, min_size=1)).encode("utf-8")
    if op == "truncate":
        return line[: draw(st.integers(0, max(0, len(line) - 1)))]
    if op == "gbk":
        return decoded.encode("gb18030")
    if op == "crlf":
        return line + b"\r"
    # "fields": change, drop or re-separate one whitespace-separated field (tags, columns, words).
    parts = re.split(r"(\s+)", decoded)
    fields = [i for i, p in enumerate(parts) if p and not p.isspace()]
    if fields:
        i = draw(st.sampled_from(fields))
        parts[i] = draw(st.sampled_from(tag_tokens(name)) | line_text(name) | st.sampled_from(["", "\t", " ", "\t\t"]))
    return "".join(parts).encode("utf-8")


@st.composite
def hostile_file(draw, source: SourceFile, name: str):
    """A fixture file after one to four hostile edits of its lines or bytes."""
    lines, final = split_lines(source.data)
    lines = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(
                ["replace", "delete", "duplicate", "swap", "insert", "blank", "bom", "crlf", "gbk_all", "final"]
            )
        )
        if op in ("replace", "delete", "duplicate", "swap") and not lines:
            op = "insert"
        if op == "replace":
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = draw(hostile_line(lines[i], name))
        elif op == "delete":
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif op == "duplicate":
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
        elif op == "swap":
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            garbage = st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")) | line_text(name).map(str.encode)
            lines.insert(draw(st.integers(0, len(lines))), draw(garbage))
        elif op == "blank":
            blank = draw(st.sampled_from([b"", b"\r", b" ", b"\t", "\u3000".encode()]))
            lines.insert(draw(st.integers(0, len(lines))), blank)
        elif op == "bom" and lines:
            lines[0] = codecs.BOM_UTF8 + lines[0]
        elif op == "crlf":
            lines = [line + b"\r" if draw(st.booleans()) else line for line in lines]
        elif op == "gbk_all":
            lines = [line.decode("utf-8", errors="replace").encode("gb18030") for line in lines]
        elif op == "final":
            final = not final
    data = join_lines(lines, final)
    if draw(st.booleans()) and data:
        data = data[: draw(st.integers(0, len(data)))]  # a cut anywhere, even inside a character
    return data


@st.composite
def mutated_json_lines(draw, source: SourceFile, name: str):
    """A JSON Lines fixture file with about half of its records changed by :func:`mutated_json`."""
    out = []
    for line in split_lines(source.data)[0]:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and draw(st.booleans()):
            line = json.dumps(draw(mutated_json(record, name)), ensure_ascii=False).encode("utf-8")
        out.append(line)
    return join_lines(out)


def fixture_or_skip(name: str) -> tuple:
    files = fixture_files(name)
    if not files:
        pytest.skip(f"{name}: no fixture files under {FIXTURES}")
    return files


def labelled_fixtures(name: str) -> list:
    files = [f for f in fixture_or_skip(name) if is_labelled(name, f)]
    if not files:
        pytest.skip(f"{name}: no labelled fixture file")
    return files


def is_json_lines(data: bytes) -> bool:
    lines = [line for line in split_lines(data)[0] if line.strip()]
    try:
        return bool(lines) and isinstance(json.loads(lines[0].decode("utf-8-sig")), dict)
    except ValueError:
        return False


def is_json_array(data: bytes) -> bool:
    return data.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"[")


def all_unified(outcomes: dict) -> list:
    """The unified records of every split, without their (split-bearing) ids."""
    return [without_id(r) for o in outcomes.values() for _, r in o.unified]


def unit_of(outcomes: dict, line_no: int) -> tuple:
    """``(split, key)`` of the record a line belongs to: the last one starting at or before it."""
    return max(((s, key) for s, o in outcomes.items() for key, _ in o.raws if key <= line_no), key=lambda sk: sk[1])


def lines_are_records(h: "Harness") -> None:
    """Skip a property about lines when a record is not a line or block of its file (one JSON
    array on one line: replacing, cutting or repeating "a line" is the whole file)."""
    if h.cls.record_unit != "line":
        pytest.skip(f"{h.name}: records are counted by {h.cls.record_unit}, not by line")


def records_except(outcomes: dict, skip: tuple, view: str = "raws") -> dict:
    """``{(split, key): record}`` of every split's raw (or ``unified``) records but the one at ``skip``."""
    return {(s, key): r for s, o in outcomes.items() for key, r in getattr(o, view) if (s, key) != skip}


# ---------------------------------------------------------------- the fixtures themselves
@pytest.mark.parametrize("name", NAMES)
def test_fixtures_meet_the_contract(name, harness):
    """The baseline the properties below compare against: every fixture file reads clean."""
    h = harness(name)
    for source in fixture_or_skip(name):
        outcomes = h.run(source.name, source.data)
        assert all(o.report["rejected"] == [] for o in outcomes.values()), source.name
        assert any(o.raws for o in outcomes.values()), source.name


# ---------------------------------------------------------------- anything at all
@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_random_bytes_never_crash(name, harness, data):
    """Random bytes, empty files, BOM-only files and random text under an official file name."""
    h = harness(name)
    file_name = data.draw(st.sampled_from(official_files(name)), label="file")
    content = data.draw(
        st.sampled_from([b"", b"\n", b"\r\n\r\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n", b"\x00" * 8])
        | st.sampled_from([UNDECODABLE, JUNK, b"{}", b"[]", b"null"])
        | st.binary(max_size=400)
        | st.lists(line_text(name), max_size=8).map(lambda ls: "\n".join(ls).encode("utf-8"))
        | st.lists(line_text(name), max_size=8).map(lambda ls: "\r\n".join(ls).encode("gb18030")),
        label="content",
    )
    h.run(file_name, content)


@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_corrupted_fixtures_never_crash(name, harness, data):
    """A fixture file after random edits: bad JSON, wrong types, missing keys, offsets out of range,
    absent mentions, broken tags and columns, BOM, CRLF/LF mixes, GBK, cuts, shuffles, duplicates."""
    h = harness(name)
    source = data.draw(st.sampled_from(fixture_or_skip(name)), label="source")
    h.run(source.name, data.draw(hostile_file(source, name) | mutated_json_lines(source, name), label="content"))


@pytest.mark.parametrize("name", NAMES)
def test_a_file_without_a_valid_record_is_reported_not_raised(name, harness):
    """An empty file, blank lines, an undecodable line or junk under every official name: the
    generators end normally and report what they read."""
    h = harness(name)
    for file_name in official_files(name):
        for content in (b"", b"\n\n", UNDECODABLE + b"\n", b"not a record\n", b"{}\n"):
            h.run(file_name, content)


# ---------------------------------------------------------------- good records are kept
@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_good_records_survive_appended_garbage(name, harness, data):
    """Garbage lines appended after a good file (after a blank line, so no block is extended) leave
    the good records' raw and unified output unchanged; the garbage is accounted for."""
    h = harness(name)
    source = data.draw(st.sampled_from(fixture_or_skip(name)), label="source")
    good_lines = [line for line in split_lines(source.data)[0] if line.strip()]
    # No more garbage lines than good non-ASCII ones: the file's encoding is its majority's (a GBK
    # line among UTF-8 ones is rejected; a file mostly GBK is read as GBK).
    voters = sum(not line.isascii() for line in good_lines)
    garbage = data.draw(
        st.lists(
            st.sampled_from(good_lines).flatmap(lambda line: hostile_line(line, name))
            | st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b""))
            | line_text(name, min_size=1).map(str.encode),
            min_size=1,
            max_size=max(1, voters),
        ),
        label="garbage",
    )
    content = join_lines(split_lines(source.data)[0]) + b"\n" + join_lines(garbage)
    good = h.baseline(source)
    mixed = h.run(source.name, content)
    for split, before in good.items():
        after = mixed[split]
        after_raws = dict(after.raws)
        for key, raw in before.raws:
            assert after_raws.get(key) == raw, f"{split}: good record at line {key} changed"
        assert after.report["read"] >= before.report["read"]
        after_unified = dict(after.unified)
        for key, record in before.unified:
            assert key in after_unified, f"{split}: good record at line {key} lost"
            if h.cls.group_by:
                # A garbage line may still be a valid line of a good sentence: the group may only grow.
                grown = after_unified[key]
                assert grown["text"] == record["text"]
                assert grown["entities"][: len(record["entities"])] == record["entities"]
                assert grown["relations"][: len(record["relations"])] == record["relations"]
            else:
                assert after_unified[key] == record, f"{split}: good record at line {key} converted differently"


@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_one_bad_line_spoils_only_its_record(name, harness, data):
    """One line replaced by a hostile one (undecodable bytes, random text, a cut, a GBK line, a broken
    field, a mutated JSON record): every other record reads as before, as many records are read,
    and an undecodable line rejects the whole record it belongs to (a block, not just the line)."""
    h = harness(name)
    lines_are_records(h)
    source = data.draw(st.sampled_from(fixture_or_skip(name)), label="source")
    lines, final = split_lines(source.data)
    i = data.draw(st.sampled_from([i for i, line in enumerate(lines) if line.strip()]), label="line index")
    bad = data.draw(hostile_line(lines[i], name), label="bad line")
    # A blank replacement would split a block into two records: not what is tested here. (A BOM
    # opening the file is an encoding mark, not text: a first line of only a BOM is blank too.)
    text = bad.decode("utf-8", errors="replace")
    assume((text.lstrip("\ufeff") if i == 0 else text).strip())
    # In a JSON-array file (CMeEE, CHIP-CDEE) a line of only brackets and commas is the array's own
    # structure: the record it replaced is gone from the file, as if its line had been deleted.
    assume(not (is_json_array(source.data) and not text.strip(" \t\r\ufeff\u3000[],")))
    content = join_lines(lines[:i] + [bad] + lines[i + 1 :], final)
    good = h.baseline(source)
    after = h.run(source.name, content)
    split, unit = unit_of(good, i + 1)
    assert records_except(after, (split, unit)) == records_except(good, (split, unit))
    if not h.cls.group_by:  # a changed sentence may join another group: raw records are the unit there
        assert records_except(after, (split, unit), "unified") == records_except(good, (split, unit), "unified")
    assert sum(o.report["read"] for o in after.values()) == sum(o.report["read"] for o in good.values())
    rejected = [r for o in after.values() for r in o.report["rejected"]]
    assert len(rejected) <= 1
    if UNDECODABLE in bad:
        assert unit not in dict(after[split].raws), "a record with an undecodable line must be rejected whole"
        assert len(rejected) == 1 and "not valid" in rejected[0]["reason"], rejected


@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_truncated_last_line_costs_at_most_the_last_record(name, harness, data):
    """A file cut anywhere inside its last line (a download stopped short, even inside a character):
    every earlier record reads as before and the last one is converted or rejected, never lost."""
    h = harness(name)
    lines_are_records(h)
    source = data.draw(st.sampled_from(fixture_or_skip(name)), label="source")
    lines, _ = split_lines(source.data)
    last = max(i for i, line in enumerate(lines) if line.strip())
    size = len(lines[last].rstrip(b"\r"))
    assume(size > 1)
    cut = lines[last][: data.draw(st.integers(1, size - 1), label="cut")]
    assume(cut.decode("utf-8", errors="replace").strip())
    after = h.run(source.name, join_lines(lines[:last] + [cut], final=False))
    good = h.baseline(source)
    last_record = unit_of(good, len(lines))
    assert records_except(after, last_record) == records_except(good, last_record)
    assert sum(o.report["read"] for o in after.values()) == sum(o.report["read"] for o in good.values())


# ---------------------------------------------------------------- same content, other bytes
@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_encoding_bom_and_line_endings_do_not_change_records(name, harness, data):
    """The same records as UTF-8, UTF-8 with BOM, UTF-16 LE/BE with BOM or GBK, with any mix of LF
    and CRLF and with or without a final newline, give the same raw and unified output; the report
    differs only in the encoding it records."""
    h = harness(name)
    source = data.draw(st.sampled_from(fixture_or_skip(name)), label="source")
    text_lines = [line.decode("utf-8").rstrip("\r") for line in split_lines(source.data)[0]]
    endings = data.draw(st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(text_lines), max_size=len(text_lines)))
    text = "".join(line + end for line, end in zip(text_lines, endings))
    if endings and not data.draw(st.booleans(), label="final newline"):
        text = text[: -len(endings[-1])]
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16-le", "utf-16-be"]), label="encoding")
    if encoding.startswith("utf-16"):
        content = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}[encoding] + text.encode(encoding)
    elif encoding == "gbk":
        try:
            content = text.encode("gbk")
        except UnicodeEncodeError:  # characters outside GBK (U+FFFD, emoji): GB18030, its superset
            content = text.encode("gb18030")
    else:
        content = text.encode(encoding)
    good = h.baseline(source)
    after = h.run(source.name, content)
    for split in good:
        assert after[split].raws == good[split].raws, split
        assert after[split].unified == good[split].unified, split
        assert without_encoding(after[split].report) == without_encoding(good[split].report), split
        if encoding.startswith("utf-16") and after[split].report["read"]:
            assert after[split].report["encoding"] == encoding


def without_encoding(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "encoding"}


@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_shuffled_and_duplicated_records_convert_alike(name, harness, data):
    """Records in another order, some repeated: nothing rejected, and each converts as it does alone."""
    h = harness(name)
    lines_are_records(h)
    source = data.draw(st.sampled_from(labelled_fixtures(name)), label="source")
    parts, blocks = units(source.data), has_blocks(source.data)
    picked = data.draw(st.lists(st.sampled_from(range(len(parts))), min_size=1, max_size=2 * len(parts)), label="order")
    after = h.run(source.name, join_units([parts[i] for i in picked], blocks))
    assert all(o.report["rejected"] == [] and not o.unified_report.get("unified_rejected") for o in after.values())
    alone = {i: h.unified_alone(source, join_units([parts[i]], blocks)) for i in set(picked)}
    expected = [r for i in picked for r in alone[i]]
    if h.cls.group_by:
        # Lines of one sentence merge wherever they are: compare each sentence's set of relations.
        def by_text(records):
            out = {}
            for r in records:
                out.setdefault(r["text"], set()).update(canonical(rel) for rel in r["relations"])
            return out

        assert by_text(all_unified(after)) == by_text(expected)
    else:
        assert Counter(map(canonical, all_unified(after))) == Counter(map(canonical, expected))


# ---------------------------------------------------------------- targeted: offsets and mentions
def json_ints(data: bytes) -> list:
    out = []
    for line in split_lines(data)[0]:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        out += [v for _, v in json_paths(record) if isinstance(v, int) and not isinstance(v, bool)]
    return out


@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_every_offset_out_of_range_is_corrected_or_null(name, harness, data):
    """Every integer of every JSON record (DuEE trigger/argument offsets, CLUENER spans, ids) set to a
    hostile value: negative, past the text, past int32 or int64. Records are rejected or converted
    with valid spans; none crashes the reader or the Arrow writer."""
    h = harness(name)
    sources = [f for f in fixture_or_skip(name) if json_ints(f.data)]
    if not sources:
        pytest.skip(f"{name}: no integer fields in its fixtures")
    source = data.draw(st.sampled_from(sources), label="source")
    out = []
    for line in split_lines(source.data)[0]:
        try:
            record = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        text = record.get("text", "") if isinstance(record, dict) else ""
        for path, value in list(json_paths(record)):
            if path and isinstance(value, int) and not isinstance(value, bool):
                hostile = st.sampled_from(HOSTILE_INTS) | st.integers(-3, len(text) + 3) | st.just(value)
                set_path(record, path, data.draw(hostile))
        out.append(json.dumps(record, ensure_ascii=False).encode("utf-8"))
    h.run(source.name, join_lines(out))


@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_mentions_absent_from_the_text_get_null_offsets(name, harness, data):
    """Strings of JSON records (all but the text) replaced by strings absent from the text: spans
    that cannot be grounded have null offsets and their record is flagged; the others stay valid."""
    h = harness(name)
    sources = [f for f in labelled_fixtures(name) if is_json_lines(f.data)]
    if not sources:
        pytest.skip(f"{name}: not a JSON Lines corpus")
    source = data.draw(st.sampled_from(sources), label="source")
    out = []
    for line in split_lines(source.data)[0]:
        record = json.loads(line)
        text = record.get("text", "")
        for path, value in list(json_paths(record)):
            if isinstance(value, str) and path != ("text",) and data.draw(st.booleans()):
                set_path(record, path, data.draw(line_text(name, min_size=1).filter(lambda s: s not in text)))
        out.append(json.dumps(record, ensure_ascii=False).encode("utf-8"))
    for outcome in h.run(source.name, join_lines(out)).values():
        for _, record in outcome.unified:
            if any(span["start"] is None for span in spans_of(record)):
                assert record["flags"], (record["id"], "a span with null offsets must be flagged")


# ---------------------------------------------------------------- missing and wrong-format files
def prepare(name: str, folder: Path, cache: Path, view: str = "raw"):
    cls = builders()[name]
    builder = cls(config_name=f"{name}_{view}", data_dir=str(folder), cache_dir=str(cache))
    builder.download_and_prepare(download_mode="force_redownload")
    return builder


def first_labelled_file(name: str) -> tuple:
    cls = builders()[name]
    return next((s, names[0]) for s, names in cls.corpus.files.items() if s not in cls.corpus.unlabelled_splits)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("view", ["raw", "unified"])
def test_empty_folder_is_one_message_naming_the_official_files(name, view, tmp_path):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "notes.txt").write_text("not a corpus file")
    with pytest.raises(FileNotFoundError) as caught:
        prepare(name, folder, tmp_path / "cache", view)
    message = str(caught.value)
    assert name in message
    for file_name in builders()[name].corpus.expected_files():
        assert file_name in message


@pytest.mark.parametrize("name", NAMES)
def test_only_unlabelled_files_is_one_message_for_the_unified_view(name, tmp_path):
    cls = builders()[name]
    unlabelled = [f for f in official_files(name) if set(splits_of(name, f)) <= cls.corpus.unlabelled_splits]
    if not unlabelled:
        pytest.skip(f"{name}: no unlabelled split")
    folder = tmp_path / name
    folder.mkdir()
    for file_name in unlabelled:
        (folder / file_name).write_text("")
    with pytest.raises(FileNotFoundError) as caught:
        prepare(name, folder, tmp_path / "cache", "unified")
    message = str(caught.value)
    for file_name in official_files(name):
        if file_name not in unlabelled:
            assert file_name in message


def wrong_format_files(name: str) -> list:
    """Fixture files of a different format family (JSON Lines vs text lines), and binary junk."""
    own_json = any(is_json_lines(f.data) for f in fixture_files(name) if is_labelled(name, f))
    donors = []
    for other in NAMES:
        for f in fixture_files(other):
            if other != name and is_json_lines(f.data) != own_json and f.data not in donors:
                donors.append(f.data)
    return donors[:2] + [bytes(range(256)) * 3]


@pytest.mark.parametrize("name", NAMES)
def test_wrong_format_file_under_an_official_name_is_rejected_with_reasons(name, tmp_path):
    """Another format (or binary junk) under the official train file name: download_and_prepare
    completes and the report rejects lines with file, line and reason."""
    split, file_name = first_labelled_file(name)
    for n, donor in enumerate(wrong_format_files(name)):
        folder = tmp_path / f"wrong{n}"
        folder.mkdir()
        (folder / file_name).write_bytes(donor)
        builder = prepare(name, folder, tmp_path / f"cache{n}")
        reports = [builder.report[s] for s in splits_of(name, file_name)]
        for report in reports:
            assert report["read"] == report["written"] + len(report["rejected"])
            for rejection in report["rejected"]:
                assert rejection["file"] == file_name and rejection["line"] >= 1 and rejection["reason"].strip()
        assert any(report["rejected"] for report in reports), f"{file_name} in another format must give rejections"


@pytest.mark.parametrize("name", NAMES)
def test_build_with_a_wholly_rejected_split_reports_instead_of_crashing(name, tmp_path, capsys):
    """`chinchilla build` with undecodable junk under the first labelled split's official name: the
    build completes and its report lists that split's rejections (or, when that file holds every
    split, the corpus is skipped with a line naming the file and the build says nothing was built)."""
    if builders()[name].record_unit == "document":
        pytest.skip(f"{name}: its split files are a folder of documents (tested in its own test file)")
    split, file_name = first_labelled_file(name)
    corpus = builders()[name].corpus
    # A joined split (FewFC: train = train_base + train_trans) is wholly rejected when all its parts are junk.
    junk_files = corpus.files[split] if split in corpus.joined_splits else (file_name,)
    folder = tmp_path / "raw" / name
    folder.mkdir(parents=True)
    for fixtures in fixture_folders(name):
        for f in fixtures.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
    for junk_file in junk_files:
        (folder / junk_file).write_bytes(JUNK)
    out = tmp_path / "out" / "chinchilla"
    code = main(["build", "--data-dir", str(tmp_path / "raw"), "--out", str(out), "--corpus", name])
    if set(splits_of(name, file_name)) == set(builders()[name].corpus.files):
        printed = capsys.readouterr()
        assert code == 2 and "nothing to build" in printed.err
        assert f"skip {name}" in printed.out and file_name in printed.out
        return
    assert code == 0
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))[name][split]
    assert report["written"] == 0 and report["rejected"]
    assert all(r["file"] in junk_files and "not valid" in r["reason"] for r in report["rejected"])


def test_build_of_a_split_holding_only_negative_records_completes(tmp_path, fixtures_dir):
    """The smallest such input: a DuIE train file of one sentence without relations."""
    folder = tmp_path / "raw" / "duie"
    folder.mkdir(parents=True)
    (folder / "duie_schema.json").write_bytes((fixtures_dir / "duie" / "duie_schema.json").read_bytes())
    (folder / "duie_train.json").write_text('{"text": "今天天气很好", "spo_list": []}\n', encoding="utf-8")
    out = tmp_path / "out" / "chinchilla"
    assert main(["build", "--data-dir", str(tmp_path / "raw"), "--out", str(out), "--corpus", "duie"]) == 0
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))["duie"]["train"]
    assert report["written"] == 1 and report["unified"] == 1


# ---------------------------------------------------------------- schema files
@pytest.mark.parametrize("name", NAMES)
@HOSTILE
@given(data=st.data())
def test_corrupted_schema_file_never_crashes(name, harness, data):
    """The schema file (read for the instruct view) after random edits: its valid labels are read,
    the rest skipped, never an exception."""
    cls = builders()[name]
    if not cls.corpus.schema_file:
        pytest.skip(f"{name}: no schema file")
    schemas = [f / cls.corpus.schema_file for f in fixture_folders(name) if (f / cls.corpus.schema_file).is_file()]
    schema = schemas[0] if schemas else None
    if schema is None:
        pytest.skip(f"{name}: no fixture {cls.corpus.schema_file}")
    h = harness(name)
    source = SourceFile(cls.corpus.schema_file, (), schema.read_bytes())
    content = data.draw(
        mutated_json_lines(source, name) | hostile_file(source, name) | st.binary(max_size=200), label="content"
    )
    path = h.folder / source.name
    path.write_bytes(content)
    try:
        label_schema = h.builder.read_schema(str(path))
    finally:
        path.unlink()
    assert all(isinstance(label, str) and isinstance(shown, str) for label, shown in label_schema["types"])
    for event_type, roles in label_schema["roles"].items():
        assert isinstance(event_type, str) and all(isinstance(role, str) for role in roles)
