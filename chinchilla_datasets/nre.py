"""The sentence-level relation format of thunlp/Chinese_NRE (SanWen, FinRE), read once for both.

Each record is one line ``head \\t tail \\t relation \\t sentence``: one entity pair of one sentence,
given as surface strings (no offsets, no entity types). A sentence with several annotated pairs
appears on several lines, so the builder groups lines by sentence and emits one unified record per
sentence carrying all of its relations. The relation ``unknown`` means "no relation": it stays in the
raw view, and in the unified view its pair is kept as entities but not as a relation (a sentence
with only ``unknown`` pairs is a negative). ``relation2id.txt`` lists ``label id`` per line, TAB- or
space-separated.

Files differ in line endings (CRLF or LF) and FinRE puts a blank line after every record; blank
lines are not records. A line without exactly four columns, or with an empty column, is rejected.
"""

from __future__ import annotations

from typing import Iterator

import datasets

from .base import ChinchillaBuilder, unified_record
from .sources import Reject, read_lines, read_nonblank_lines
from .spans import entity

COLUMNS = ("head", "tail", "relation", "sentence")
NO_RELATION = "unknown"
# The corpora give no entity types: unified entities (and relation heads/tails) are untyped.
UNTYPED = None  # null, not "": "no type" rather than a type named ""
CHINESE_NRE_COMMIT = "2cd47e6dc1b95e8ca3e93b5b8567666c37c5d654"
FILE_NAMES = ("train.txt", "valid.txt", "test.txt", "relation2id.txt")

RAW_FEATURES = datasets.Features({column: datasets.Value("string") for column in COLUMNS})


def pinned_urls(folder: str) -> dict:
    """``{file name: raw URL}`` of one corpus folder of thunlp/Chinese_NRE at the pinned commit."""
    base = f"https://raw.githubusercontent.com/thunlp/Chinese_NRE/{CHINESE_NRE_COMMIT}/data/{folder}"
    return {name: f"{base}/{name}" for name in FILE_NAMES}


def read_pair_lines(path: str) -> Iterator[tuple]:
    """Yield ``(line_no, {"head", "tail", "relation", "sentence"})`` or ``(line_no, Reject)``."""
    for line_no, line in read_nonblank_lines(path):
        if isinstance(line, Reject):
            yield line_no, line
            continue
        fields = line.split("\t")
        if len(fields) != len(COLUMNS):
            yield line_no, Reject(
                f"expected {len(COLUMNS)} TAB-separated columns (head, tail, relation, sentence), got {len(fields)}"
            )
            continue
        record = dict(zip(COLUMNS, fields))
        empty = [column for column, value in record.items() if not value.strip()]
        if empty:
            yield line_no, Reject(f"empty {' and '.join(empty)} column")
            continue
        yield line_no, record


def read_relation2id(path: str, display: dict) -> dict:
    """``relation2id.txt`` as a label schema, without ``unknown``; ``display`` maps labels to readable names."""
    labels = []
    for _, line in read_lines(path):
        if isinstance(line, Reject) or not line.strip():
            continue
        parts = line.split()
        label = " ".join(parts[:-1]) if len(parts) > 1 else parts[0]
        if label != NO_RELATION and label not in labels:
            labels.append(label)
    return {"types": [[label, display.get(label, label)] for label in labels], "roles": {}}


def sentence_record(pairs: list) -> dict:
    """One unified record from all the lines of one sentence: every pair's mentions as (deduplicated)
    entities, every pair but ``unknown`` as a relation (duplicates dropped)."""
    text, flags = pairs[0]["sentence"], []
    entities, relations = [], []
    for pair in pairs:
        # Columns are kept as given in the raw view; padding around them (as in the upstream README's
        # example line) is not part of the mention.
        head = entity(text, UNTYPED, pair["head"].strip(), flags=flags)
        tail = entity(text, UNTYPED, pair["tail"].strip(), flags=flags)
        for mention in (head, tail):
            if mention not in entities:
                entities.append(mention)
        relation = {"type": pair["relation"].strip(), "head": head, "tail": tail, "qualifiers": []}
        if relation["type"] != NO_RELATION and relation not in relations:
            relations.append(relation)
    return unified_record(text, entities=entities, relations=relations, flags=flags)


class ChineseNREBuilder(ChinchillaBuilder):
    """Base of the Chinese_NRE corpora: a subclass sets only ``corpus`` (whose ``labels`` give the
    readable relation names; a label missing there is shown as is)."""

    raw_features = RAW_FEATURES
    group_by = "sentence"

    def read(self, path, split):
        yield from read_pair_lines(path)

    def to_unified(self, raw):
        return sentence_record(raw)

    def read_schema(self, path):
        return read_relation2id(path, self.corpus.labels)
