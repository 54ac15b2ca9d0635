"""The instruction view: rendering unified records into instruction rows, and parsing answers back.

Rendering (``InstructRenderer``) is a batched ``Dataset.map`` function from unified Arrow tables
to instruction Arrow tables; it is pure, so the same unified rows give byte-identical instruction
rows whatever ``num_proc`` or batch size. Everything random (the template, the order of negative
types, which empty records are kept) is a hash of the row or record id and the seed.

Schema-conditioned prompts: each row asks for a batch of types (defaults NER 6, RE 4, EE 4) and
its answer lists every asked type, absent ones as empty lists.
- Evaluation splits (anything but ``train``): the full schema in batches, no sampling.
- ``train``: the gold types plus sampled negative types (``negative_ratio`` per gold type, hard
  negatives first: types that co-occur with the gold ones in the corpus's training split), spread
  so that every row has at least one gold type. Records without any annotation give all-empty rows;
  only the ones with the smallest hashes are kept, so that all-empty rows stay within
  ``empty_cap`` of the split. EE corpora also get the sub-tasks EET (type + trigger) and EEA
  (arguments given type and trigger) in ``train``.

Answers are compact JSON objects keyed by the (readable) type names listed in the instruction:
- NER: ``{"人名":["张三"],"地名":[]}``
- RE:  ``{"作者":[{"head":"…","tail":"…","qualifiers":{"inWork":"…"}}]}``
- EE:  ``{"公司上市":[{"trigger":"…","arguments":[{"role":"…","argument":"…"}]}]}``
- EET: ``{"公司上市":["IPO"]}``;  EEA: ``{"上市公司":["…"],"披露时间":[]}``
"""

from __future__ import annotations

import gc
import hashlib
import heapq
import itertools
import json
import math
import re
import string
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Iterable, Iterator, Optional

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from .schema import INSTRUCT_FEATURES, TASK_COLUMN, UNIFIED_FEATURES

TEMPLATE_FILES = {"NER": "ner.yaml", "RE": "re.yaml", "EE": "ee.yaml", "EET": "eet.yaml", "EEA": "eea.yaml"}
KNOWN_PLACEHOLDERS = {"schema", "event_type", "trigger"}
INSTRUCT_COLUMNS = ("id", "record_id", "corpus", "task", "split", "instruction", "input", "output", "template_id", "schema", "params")
TRAIN_SPLIT = "train"
INSTRUCT_SCHEMA = INSTRUCT_FEATURES.arrow_schema
UNIFIED_SCHEMA = UNIFIED_FEATURES.arrow_schema


@dataclass(frozen=True)
class InstructOptions:
    """Generation parameters, recorded as JSON on every row (``params``) so a view can be regenerated."""

    seed: int = 42
    # Language of the templates; None = the corpus's own (``Corpus.language``: English corpora get
    # the English templates), resolved by ``in_language`` before rendering.
    language: Optional[str] = None
    ner_batch: int = 6
    re_batch: int = 4
    ee_batch: int = 4
    negative_ratio: float = 1.0
    empty_cap: float = 0.10
    subtasks: bool = True

    def batch_size(self, task: str) -> int:
        return {"NER": self.ner_batch, "RE": self.re_batch}.get(task, self.ee_batch)

    def to_dict(self) -> dict:
        return asdict(self)

    def in_language(self, language: str) -> "InstructOptions":
        """These options with ``language`` filled in when it was left to the corpus (None)."""
        return self if self.language else replace(self, language=language)


DEFAULT_LANGUAGE = "zh"  # of options rendered without a corpus (no language given)
# How each language lists the asked types in an instruction: separator, and the brackets around an
# event type's roles (``类型（角色1、角色2）`` / ``type (role 1, role 2)``).
LIST_PUNCTUATION = {"zh": ("、", "（", "）"), "en": (", ", " (", ")")}


def list_punctuation(language: Optional[str]) -> tuple:
    return LIST_PUNCTUATION.get(language or DEFAULT_LANGUAGE, LIST_PUNCTUATION[DEFAULT_LANGUAGE])


# ---------------------------------------------------------------- templates


@lru_cache(maxsize=None)
def load_templates() -> dict:
    """All templates, as ``{task: [template, ...]}``; each has id, task, language, placeholders, text."""
    out = {}
    for task, file_name in TEMPLATE_FILES.items():
        text = resources.files("instructions").joinpath(file_name).read_text(encoding="utf-8")
        out[task] = yaml.safe_load(text)
    return out


def template_placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _hash(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


@lru_cache(maxsize=None)
def _candidates(task: str, language: str) -> tuple:
    candidates = tuple(t for t in load_templates()[task] if t["language"] == language)
    if not candidates:
        raise ValueError(f"no {language} template for task {task}")
    return candidates


def choose_template(task: str, row_id: str, seed: int = 42, language: str = "zh") -> dict:
    """The template of a row: a pure function of its id (``<record id>#<suffix>``) and the seed;
    the renderer computes the same choice for a whole table at once (``row_hashes``)."""
    candidates = _candidates(task, language)
    record_id, _, suffix = row_id.rpartition("#")
    return candidates[int(row_hashes(hash64([record_id], seed), hash64([suffix], seed))[0] % np.uint64(len(candidates)))]


def row_hashes(record_hashes: np.ndarray, suffix_hashes: np.ndarray) -> np.ndarray:
    """The hash of rows ``<record id>#<suffix>`` from the ``hash64`` of their two parts."""
    return mix64(record_hashes ^ mix64(suffix_hashes))


# ---------------------------------------------------------------- gold answers


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector. Rendering a table allocates a few hundred thousand
    small dicts, lists and tuples, freed by reference counting; the collections their allocation
    triggers scan every tracked object each time and took a fifth of the instruct view."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dump_answer(value) -> bytes:
    """An answer as compact UTF-8 JSON (``{"人名":["张三"],"地名":[]}``): ``orjson``, several times
    faster than ``json.dumps`` and already encoded for the Arrow column; compact JSON is also fewer
    tokens to train on."""
    return orjson.dumps(value)


def describe(labels: list, display: dict, roles: dict, language: str = DEFAULT_LANGUAGE) -> str:
    """How the asked types are listed in an instruction (EE types with their roles in brackets)."""
    separator, opening, closing = list_punctuation(language)
    parts = []
    for label in labels:
        name = display.get(label, label)
        parts.append(f"{name}{opening}{separator.join(roles[label])}{closing}" if roles.get(label) else name)
    return separator.join(parts)


# ---------------------------------------------------------------- training-split statistics


def corpus_stats(records: Iterable[dict], schema: dict, options: InstructOptions) -> dict:
    """``table_stats`` of unified records given as dicts."""
    return table_stats(_tables(records), schema, options)


def _tables(records: Iterable[dict]) -> Iterator[pa.Table]:
    records = iter(records)
    while chunk := list(itertools.islice(records, RENDER_CHUNK)):
        yield pa.Table.from_pylist(chunk, schema=UNIFIED_SCHEMA)


def table_stats(tables: Iterable[pa.Table], schema: dict, options: InstructOptions) -> dict:
    """What training rows need from the whole split: type co-occurrence counts (for hard
    negatives) and the hash threshold below which all-empty records are kept (for the cap).

    ``tables``: unified Arrow tables (``id``, ``task`` and the task's annotation column), read once.
    Counted with numpy: ``cooccur[a][b]`` is the number of records annotated with both a and b."""
    with gc_paused():
        return _table_stats(tables, schema, options)


def _table_stats(tables: Iterable[pa.Table], schema: dict, options: InstructOptions) -> dict:
    vocabulary: dict = {}  # label -> code, in order of first appearance
    pair_counts = np.zeros(0, dtype=np.int64)  # codes a * V + b, for the vocabulary size V below
    size = 0
    annotated_rows, empty_hashes, empty_records, rows_per_empty = 0, [], 0, 1
    for table in tables:
        tasks = table.column("task").to_pylist()
        ids = table.column("id")
        for task in set(tasks):
            mine = np.asarray([t == task for t in tasks])
            column = table.column(TASK_COLUMN[task]).combine_chunks().filter(pa.array(mine))
            lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
            labels = pc.fill_null(pc.struct_field(column.flatten(), "type"), "")
            for label in pc.unique(labels).to_pylist():
                vocabulary.setdefault(label, len(vocabulary))
            codes = pc.index_in(labels, value_set=pa.array(list(vocabulary), labels.type)).to_numpy(zero_copy_only=False).astype(np.int64)
            record_of = np.repeat(np.arange(len(lengths)), lengths)
            # Each record's distinct labels, in record order: (record, code) pairs.
            pairs = np.unique(record_of * max(len(vocabulary), 1) + codes)
            records, codes = pairs // max(len(vocabulary), 1), pairs % max(len(vocabulary), 1)
            gold = np.bincount(records, minlength=len(lengths))  # distinct labels per record
            # Every ordered pair of distinct labels within a record: each element against the
            # elements of its record (start ... start + gold).
            starts = np.cumsum(gold) - gold
            left = np.repeat(np.arange(len(codes)), gold[records])
            offsets_out = np.cumsum(gold[records]) - gold[records]
            right = starts[records[left]] + (np.arange(len(left)) - offsets_out[left])
            other = left != right
            if len(vocabulary) > size:  # grow the count matrix (flattened) to the new vocabulary
                grown = np.zeros(len(vocabulary) ** 2, dtype=np.int64)
                if size:
                    grown.reshape(len(vocabulary), -1)[:size, :size] = pair_counts.reshape(size, size)
                pair_counts, size = grown, len(vocabulary)
            pair_counts += np.bincount(codes[left[other]] * size + codes[right[other]], minlength=size * size)
            # Rows per annotated record; EE with sub-tasks adds one EET row per EE row and one EEA
            # row per event.
            subtasks = options.subtasks and task == "EE"
            annotated = gold > 0
            k = options.batch_size(task)
            annotated_rows += int(((gold[annotated] + k - 1) // k).sum()) * (2 if subtasks else 1)
            annotated_rows += int(lengths[annotated].sum()) if subtasks else 0
            empty = np.flatnonzero(~annotated)
            if len(empty):
                empty_ids = ids.filter(pa.array(mine)).take(pa.array(empty)).to_pylist()
                empty_records += len(empty_ids)
                empty_hashes.extend(_hash(options.seed, "empty", record_id) for record_id in empty_ids)
                rows_per_empty = 2 if subtasks else 1
    cap = options.empty_cap
    allowed = math.floor(cap / (1 - cap) * annotated_rows / rows_per_empty) if cap < 1 else empty_records
    kept = heapq.nsmallest(allowed, empty_hashes) if allowed else []
    labels = list(vocabulary)
    counts = pair_counts.reshape(size, size) if size else np.zeros((0, 0), dtype=np.int64)
    cooccur = {a: {labels[b]: int(counts[i, b]) for b in np.flatnonzero(counts[i]).tolist()} for i, a in enumerate(labels)}
    return {
        "cooccur": {a: dict(sorted(row.items())) for a, row in sorted(cooccur.items())},
        "empty_threshold": kept[-1] if kept else -1,
        "empty_records": empty_records,
        "empty_kept": len(kept),
    }


def train_batches(gold: list, negatives: list, k: int, rank: "_Rank") -> list:
    """Gold labels plus negatives (hardest first), spread so that every batch holds a gold label;
    each batch in schema order (``rank``: ``{label: position}``, labels outside the schema last)."""
    batches = math.ceil(len(gold) / k)
    if batches == 1:
        return [sorted(gold + negatives, key=rank.__getitem__)]
    chunks = [[] for _ in range(batches)]
    for i, label in enumerate(gold + negatives):
        chunks[i % batches].append(label)
    return [sorted(chunk, key=rank.__getitem__) for chunk in chunks]


def hash64(values, seed: int) -> np.ndarray:
    """A 64-bit hash of each string, keyed by ``seed``: SipHash-2-4 of the UTF-8 bytes (pandas'
    ``hash_array``), vectorized, the same on every platform and run."""
    from pandas.util import hash_array

    key = hashlib.sha256(f"chinchilla:{seed}".encode()).hexdigest()[:16]
    return hash_array(np.asarray(values, dtype=object), hash_key=key, categorize=False)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 that spreads combined hashes (``a ^ b``)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class NegativeRanker:
    """Ranks the schema's labels as negative types for training records: most co-occurring with
    the record's gold labels (counts from the training split, summed over its gold labels) first,
    ties in a pseudo-random order that is a pure function of (seed, record id, label); the gold
    labels themselves last. A record without gold labels gets the pseudo-random order alone.

    Computed for a whole table at once with numpy: a record's scores are the sum of its gold
    labels' rows of the co-occurrence matrix; score and tie order are packed into one sort key."""

    def __init__(self, cooccur: dict, all_labels: list, seed: int):
        self.all_labels = all_labels
        self.order = {label: i for i, label in enumerate(all_labels)}
        self.seed = seed
        self.rows = {a: i for i, a in enumerate(cooccur)}  # gold labels with counts, schema or not
        self.row_labels = pa.array(list(self.rows), pa.string())
        self.schema_labels = pa.array(all_labels, pa.string())
        self.matrix = np.zeros((len(self.rows), len(all_labels)), dtype=np.int64)
        for a, row in cooccur.items():
            for b, n in row.items():
                if b in self.order:
                    self.matrix[self.rows[a], self.order[b]] = n
        self.label_hashes = hash64(all_labels, seed) if all_labels else np.zeros(0, np.uint64)

    def tie_keys(self, record_hashes: np.ndarray) -> np.ndarray:
        """``(records, labels)`` uint64 keys: the pseudo-random order of labels for each record,
        from the records' ``hash64`` (of their ids, with the seed)."""
        return mix64(record_hashes[:, None] ^ self.label_hashes[None, :])

    def schema_positions(self, labels) -> np.ndarray:
        """The schema position of each label (an Arrow string array), -1 outside the schema."""
        return pc.fill_null(pc.index_in(labels, value_set=self.schema_labels), -1).to_numpy()

    def rank(self, record_hashes: np.ndarray, record_of: np.ndarray, labels, top: int, positions: Optional[np.ndarray] = None) -> np.ndarray:
        """``(records, top)`` schema positions: each record's first ``top`` labels in ranking order.
        The gold labels come flat: ``labels[j]`` (an Arrow string array or a list) belongs to
        record ``record_of[j]``; repeats are fine. ``positions``: their ``schema_positions``, if
        the caller has them already."""
        n, size = len(record_hashes), len(self.all_labels)
        top = min(top, size)
        labels = labels if isinstance(labels, (pa.Array, pa.ChunkedArray)) else pa.array(labels, pa.string())
        record_of = np.asarray(record_of, dtype=np.int64)
        # Each record's score: the sum of its distinct gold labels' rows of the matrix.
        # (Not indicator @ matrix: BLAS threads spin when the cores are busy.)
        score = np.zeros((n, size), dtype=np.int64)
        row = pc.fill_null(pc.index_in(labels, value_set=self.row_labels), -1).to_numpy()
        if len(self.rows) and (row >= 0).any():
            pairs = np.unique(record_of[row >= 0] * len(self.rows) + row[row >= 0])  # by record, distinct
            records, rows = pairs // len(self.rows), pairs % len(self.rows)
            starts = np.flatnonzero(np.r_[True, records[1:] != records[:-1]])
            score[records[starts]] = np.add.reduceat(self.matrix[rows], starts, axis=0)
        position = self.schema_positions(labels) if positions is None else positions
        gold_in_schema = (record_of[position >= 0], position[position >= 0])
        score[gold_in_schema] = -1  # gold labels are never negatives: they rank last
        if top == 0:
            return np.zeros((n, 0), dtype=np.int64)
        worst = int(score.max(initial=0)) + 1
        if worst >= 1 << 23:  # (counts of millions of records: two sort keys)
            return np.lexsort((self.tie_keys(record_hashes), -score))[:, :top]
        # One sort key, lower first: the score inverted in the high 24 bits (gold labels past every
        # other label), the tie order in the low 40.
        key = ((worst - score).astype(np.uint64) << np.uint64(40)) | (self.tie_keys(record_hashes) >> np.uint64(24))
        if top < size:  # only the first few matter: partition, then sort those
            first = np.argpartition(key, top - 1, axis=1)[:, :top]
        else:
            first = np.broadcast_to(np.arange(size), (n, size))
        return np.take_along_axis(first, np.argsort(np.take_along_axis(key, first, axis=1), axis=1, kind="stable"), axis=1)


# ---------------------------------------------------------------- rendering

ROW_TASKS = ("NER", "RE", "EE", "EET", "EEA")  # the tasks of instruction rows
RENDER_CHUNK = 1000  # records per Arrow table when rendering Python records
_MAX_TEMPLATES = 64  # templates per (task, language), at most: pairs (prompt, template) are packed in one int


def _field(array: pa.Array, *path: str) -> pa.Array:
    """A (nested) field of a struct array."""
    for name in path:
        array = pc.struct_field(array, name)
    return array


def _annotations(column: pa.Array, task: str) -> tuple:
    """``(offsets, labels, items, label_array)`` of a unified annotation column (a list<struct>
    Arrow array): record ``i``'s annotations are ``labels[offsets[i]:offsets[i+1]]`` (also as the
    Arrow array ``label_array``) with their answer items
    (NER: the mention; RE: ``{"head", "tail"[, "qualifiers"]}``; EE: ``(trigger, [(role, text)])``).
    Only the fields an answer uses are converted to Python: no per-record dicts of spans."""
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    offsets = [0, *np.cumsum(lengths).tolist()]
    values = column.flatten()  # null lists contribute nothing

    def nested(array, *path) -> tuple:  # a list<struct> field: its per-item counts and flattened values
        inner = _field(array, *path)
        counts = pc.fill_null(pc.list_value_length(inner), 0).to_pylist()
        return counts, inner.flatten()

    label_array = _field(values, "type")
    labels = label_array.to_pylist()
    if task == "NER":
        items = _field(values, "text").to_pylist()
    elif task == "RE":
        heads, tails = _field(values, "head", "text").to_pylist(), _field(values, "tail", "text").to_pylist()
        counts, qualifiers = nested(values, "qualifiers")
        roles, texts = _field(qualifiers, "role").to_pylist(), _field(qualifiers, "text").to_pylist()
        items, q = [], 0
        for head, tail, count in zip(heads, tails, counts):
            item = {"head": head, "tail": tail}
            if count:
                item["qualifiers"] = dict(zip(roles[q : q + count], texts[q : q + count]))
                q += count
            items.append(item)
    else:
        triggers = _field(values, "trigger", "text").to_pylist()
        counts, arguments = nested(values, "arguments")
        roles, texts = _field(arguments, "role").to_pylist(), _field(arguments, "text").to_pylist()
        items, a = [], 0
        for trigger, count in zip(triggers, counts):
            items.append((trigger, list(zip(roles[a : a + count], texts[a : a + count]))))
            a += count
    return offsets, labels, items, label_array


_JSON_ESCAPED = r'[\x00-\x1f"\\]'  # the characters a JSON string escapes (orjson keeps the rest as they are)


def _json_strings(array: pa.Array) -> pa.Array:
    """``orjson.dumps`` of each string of an Arrow array, vectorized: the string in quotes, and
    through orjson the few strings with a character to escape. Nulls stay null."""
    quoted = pc.binary_join_element_wise('"', array, '"', "")
    escaped = pc.fill_null(pc.match_substring_regex(array, _JSON_ESCAPED), False)
    if pc.any(escaped).as_py():
        fixed = pa.array([orjson.dumps(value).decode() for value in array.filter(escaped).to_pylist()], pa.string())
        quoted = pc.replace_with_mask(quoted, escaped, fixed)
    return quoted


def _joined(lengths: np.ndarray, values: pa.Array, separator: str) -> pa.Array:
    """``values`` cut into consecutive runs (``lengths``), each run joined with ``separator``."""
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]), pa.int32())
    return pc.binary_join(pa.ListArray.from_arrays(offsets, values), separator)


def _nested_count(array: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _gold_items(values: pa.Array, task: str) -> tuple:
    """``(items, triggers, ok)`` of flattened annotations (a struct array), with Arrow: each
    one's answer item as compact JSON, the bytes ``dump_answer`` gives for the loop's item (NER: the
    mention; RE: ``{"head","tail"[,"qualifiers"]}``; EE: ``{"trigger","arguments":[{"role","argument"}]}``),
    each EE trigger as a JSON string (else None), and whether the item can be rendered this way:
    not with a null field, nor a relation of several qualifiers (the loop compares those as dicts,
    regardless of their order)."""
    triggers = None
    if task == "NER":
        items = _json_strings(_field(values, "text"))
        ok = True
    elif task == "RE":
        qualifiers = _field(values, "qualifiers")
        count = _nested_count(qualifiers)
        flat = qualifiers.flatten()
        pairs = pc.binary_join_element_wise(_json_strings(_field(flat, "role")), _json_strings(_field(flat, "text")), ":")
        listed = pc.binary_join_element_wise(',"qualifiers":{', _joined(count, pairs, ","), "}", "")
        listed = pc.if_else(pa.array(count > 0), listed, "")
        head, tail = _json_strings(_field(values, "head", "text")), _json_strings(_field(values, "tail", "text"))
        items = pc.binary_join_element_wise('{"head":', head, ',"tail":', tail, listed, "}", "")
        ok = count <= 1
    else:
        arguments = _field(values, "arguments")
        flat = arguments.flatten()
        listed = pc.binary_join_element_wise('{"role":', _json_strings(_field(flat, "role")), ',"argument":', _json_strings(_field(flat, "text")), "}", "")
        triggers = _json_strings(_field(values, "trigger", "text"))
        items = pc.binary_join_element_wise('{"trigger":', triggers, ',"arguments":[', _joined(_nested_count(arguments), listed, ","), "]}", "")
        ok = True
    return items, triggers, ok & pc.is_valid(items).to_numpy(zero_copy_only=False)


class _Rank(dict):
    """``{label: schema position}``; a label outside the schema sorts after all of it."""

    def __missing__(self, label) -> int:
        return len(self)


class _Display(dict):
    """``{label: readable name}``; a label without one is shown as itself."""

    def __missing__(self, label):
        return label


class _Batch:
    """What the rows asking for one batch of labels share: readable names, the all-empty answer and
    the instruction text per template. The object itself is the prompt key of its rows (``render``);
    ``subtask`` is the key of its EET rows. Made for most training rows: kept cheap."""

    __slots__ = ("task", "labels", "names", "distinct_names", "_empty", "texts", "_subtask")

    def __init__(self, task: str, labels: tuple, display: _Display):
        self.task = task
        self.labels = labels
        self.names = tuple(map(display.__getitem__, labels))
        self.distinct_names = len(set(self.names)) == len(self.names)
        self._empty = None
        self.texts: dict = {}  # (template id, with roles) -> instruction
        self._subtask = None

    @property
    def empty(self) -> bytes:
        """The JSON answer with every label and no mention (training batches hold a gold label: rarely needed)."""
        if self._empty is None:
            self._empty = dump_answer({name: [] for name in self.names})
        return self._empty

    @property
    def subtask(self) -> "_Subtask":
        if self._subtask is None:
            self._subtask = _Subtask(self)
        return self._subtask


class _EvalBatches(list):
    """The batches of an evaluation record (the whole schema), with what every record shares:
    which batch holds each label, and the rows' empty answers."""

    __hash__ = object.__hash__  # one object per task: compared by identity
    __eq__ = object.__eq__

    def __init__(self, batches: list):
        super().__init__(batches)
        self.of_label = {label: b for b, batch in enumerate(batches) for label in batch.labels}
        self.empty = [batch.empty for batch in batches]


class _Subtask:
    """The prompt key of the EET rows of a batch (the same labels, listed without roles)."""

    __slots__ = ("batch",)

    def __init__(self, batch: _Batch):
        self.batch = batch


class InstructRenderer:
    """Renders unified Arrow tables into instruction Arrow tables: the ``Dataset.map`` function of
    the instruct view (``batched=True`` on an ``arrow``-formatted dataset), and the core of
    ``render_records``.

    Rows of the same label batch share their instruction, their empty answer and their ``schema``
    list; the columns copied from the record (``record_id``, ``corpus``, ``input``) are Arrow
    ``take``s; row ids, templates and negatives are computed for a whole table with numpy. Plain
    records are rendered entirely with numpy and Arrow, answers included (``_render_train``,
    ``_render_evaluation``; EEA rows take a short loop per event); the other records (all-empty
    training records, labels outside the schema, nulls, relations with several qualifiers) by
    the per-record loop (``_loop_rows``), which is also the reference the tests compare with."""

    def __init__(self, split: str, schema: dict, options: Optional[InstructOptions] = None, stats: Optional[dict] = None):
        self.split = split
        self.options = options = (options or InstructOptions()).in_language(DEFAULT_LANGUAGE)
        self.separator = list_punctuation(options.language)[0]
        self.train = split == TRAIN_SPLIT
        self.display = _Display(schema["types"])
        self.all_labels = [label for label, _ in schema["types"]]
        self.roles = schema.get("roles", {})
        self.order = {label: i for i, label in enumerate(self.all_labels)}
        self.stats = stats or {"cooccur": {}, "empty_threshold": -1}
        self.ranker = NegativeRanker(self.stats["cooccur"], self.all_labels, options.seed)
        self.params = json.dumps({**options.to_dict(), "split_mode": "train" if self.train else "eval"}, sort_keys=True)
        self.candidates = {task: _candidates(task, options.language) for task in ROW_TASKS}
        if max(len(c) for c in self.candidates.values()) > _MAX_TEMPLATES:
            raise ValueError(f"more than {_MAX_TEMPLATES} templates for one task and language")
        self.rank = _Rank(self.order)
        self.batches: dict = {}  # label tuple -> _Batch
        self.eval_batches: dict = {}  # task -> _EvalBatches
        self.evaluation_parts: dict = {}  # task -> _evaluation_parts
        self.fast_tasks = {task: self._fast_parts(task) for task in ("NER", "RE", "EE")}
        self.suffixes: dict = {}  # row id suffix ("re0", "eet1", "eea2", ...) -> index
        self.suffix_hashes = np.zeros(0, dtype=np.uint64)

    # -- the Dataset.map function
    def __call__(self, table: pa.Table) -> pa.Table:
        return self.render(table)

    def __getstate__(self):  # sent to map's worker processes (and hashed for its fingerprint) without caches
        return dict(self.__dict__, batches={}, eval_batches={}, evaluation_parts={}, suffixes={}, suffix_hashes=np.zeros(0, dtype=np.uint64))

    # -- per label batch (cached)
    def _batch(self, task: str, labels: tuple) -> _Batch:
        batch = self.batches.get((task, labels))
        if batch is None:
            if len(self.batches) > 20_000:  # train batches vary with the negatives: keep memory bounded
                self.batches.clear()
            batch = self.batches[task, labels] = _Batch(task, labels, self.display)
        return batch

    def _prompt(self, key) -> tuple:
        """``(task, schema list)`` of a prompt key (see ``render``)."""
        if isinstance(key, tuple):  # EEA: (event type, trigger, roles)
            return "EEA", key[2]
        if isinstance(key, _Batch):
            return key.task, key.names
        return "EET", key.batch.names

    def _instruction(self, key, template: dict) -> str:
        """The instruction of a prompt key in a template."""
        if isinstance(key, tuple):
            event_type, trigger, roles = key
            return template["text"].format(event_type=self.display.get(event_type, event_type), trigger=trigger, schema=self.separator.join(roles))
        batch, with_roles = (key, True) if isinstance(key, _Batch) else (key.batch, False)
        text = batch.texts.get((template["id"], with_roles))
        if text is None:
            roles = self.roles if with_roles else {}
            text = batch.texts[template["id"], with_roles] = template["text"].format(schema=describe(list(batch.labels), self.display, roles, self.options.language))
        return text

    @staticmethod
    def _answer(task: str, batch: "_Batch", gold: dict) -> dict:
        """The gold answer restricted to a batch's labels: every label a key (readable name), in order."""
        if batch.distinct_names:
            return dict(zip(batch.names, [gold.get(label, ()) for label in batch.labels]))
        answer: dict = {}
        for label, name in zip(batch.labels, batch.names):
            items = gold.get(label, [])
            if name not in answer:
                answer[name] = items
            else:  # two labels shown under one name: one list, as if one type
                merged = answer[name] = list(answer[name])
                merged.extend(item for item in items if task == "EE" or item not in merged)
        return answer

    def _schema_batches(self, task: str) -> "_EvalBatches":
        batches = self.eval_batches.get(task)
        if batches is None:
            k, labels = self.options.batch_size(task), self.all_labels
            batches = self.eval_batches[task] = _EvalBatches([self._batch(task, tuple(labels[i : i + k])) for i in range(0, len(labels), k)])
        return batches

    def _evaluation_batches(self, tasks: list, golds: list) -> list:
        """The label batches (``_Batch``) of each evaluation record's rows: the whole schema, then
        any gold label it lacks. A record whose labels are all in the schema gets its task's
        ``_EvalBatches``."""
        out = []
        for task, gold in zip(tasks, golds):
            if self.rank.keys() >= gold.keys():
                out.append(self._schema_batches(task))
            else:
                k = self.options.batch_size(task)
                labels = self.all_labels + [label for label in gold if label not in self.rank]
                out.append([self._batch(task, tuple(labels[i : i + k])) for i in range(0, len(labels), k)])
        return out

    def _train_record_batches(self, task: str, gold: dict, wanted: Optional[int], ranked: list) -> list:
        if wanted is None:
            return []  # an all-empty record beyond the cap (counted in the build report)
        chosen = [self.all_labels[j] for j in ranked[:wanted]]
        if not gold:
            return [self._batch(task, tuple(chosen))]
        return [self._batch(task, tuple(batch)) for batch in train_batches(list(gold), chosen, self.options.batch_size(task), self.rank)]

    def _eea_answer(self, event_type: str, arguments: list) -> tuple:
        """``(roles, answer)`` of an event's EEA row: its type's schema roles, then any other role
        it has; each role's distinct argument texts."""
        event_roles = list(dict.fromkeys([*self.roles.get(event_type, []), *(role for role, _ in arguments)]))
        answer: dict = {role: [] for role in event_roles}
        for role, text in arguments:
            if text not in answer[role]:
                answer[role].append(text)
        return tuple(event_roles), dump_answer(answer)

    def _suffixes(self, kind: str, count: int) -> list:
        """Indices of the row id suffixes ``<kind>0`` ... ``<kind><count-1>``."""
        out = []
        for b in range(count):
            suffix = f"{kind}{b}"
            index = self.suffixes.get(suffix)
            if index is None:
                index = self.suffixes[suffix] = len(self.suffixes)
                self.suffix_hashes = np.append(self.suffix_hashes, hash64([suffix], self.options.seed))
            out.append(index)
        return out

    # -- a table
    def render(self, table: pa.Table) -> pa.Table:
        with gc_paused():
            return self._render(table)

    def _template_parts(self, task: str, roles: dict) -> Optional[dict]:
        """Each template of ``task`` cut around its one ``{schema}`` placeholder, and each schema
        label as the instruction lists it; None when a template is not that simple."""
        prefixes, suffixes = [], []
        for template in self.candidates[task]:
            text = template["text"]
            if template_placeholders(text) != {"schema"} or text.count("{schema}") != 1 or "{{schema}}" in text:
                return None
            before, after = text.split("{schema}")
            prefixes.append(before.format())  # (unescapes {{ and }})
            suffixes.append(after.format())
        return {
            "task": task,
            "described": pa.array([describe([label], self.display, roles, self.options.language) for label in self.all_labels], pa.string()),
            "prefixes": pa.array(prefixes, pa.string()),
            "suffixes": pa.array(suffixes, pa.string()),
            "template_ids": pa.array([t["id"] for t in self.candidates[task]], pa.string()),
        }

    def _fast_parts(self, task: str) -> Optional[dict]:
        """What the vectorized training rows of ``task`` need (``_fast_train_rows``), or None when
        they cannot be built that way: readable names shared by two labels, or a template (of the
        task, or of EET for EE with sub-tasks) whose only placeholder is not one ``{schema}``."""
        names = [self.display[label] for label in self.all_labels]
        if len(set(names)) != len(names) or not names:
            return None
        parts = self._template_parts(task, self.roles)  # (as the loop's _instruction: a type's roles wherever it is listed)
        subtask = self._template_parts("EET", {}) if task == "EE" and self.options.subtasks else None
        if parts is None or (task == "EE" and self.options.subtasks and subtask is None):
            return None
        keys = [orjson.dumps(name).decode() + ":" for name in names]
        return dict(
            parts,
            subtask=subtask,
            names=pa.array(names, pa.string()),
            name_keys=pa.array(keys, pa.string()),
            empty_items=pa.array([key + "[]" for key in keys], pa.string()),
        )

    def _render(self, table: pa.Table) -> pa.Table:
        if not table.num_rows:
            return INSTRUCT_SCHEMA.empty_table()
        render_task = self._render_train if self.train else self._render_evaluation
        tasks = table.column("task").to_pylist()
        distinct = list(dict.fromkeys(tasks))
        if len(distinct) == 1:
            out, rows = render_task(table, distinct[0])
        else:
            pieces = []  # a table of several tasks (render_records): each task's records apart, then merged
            for task in distinct:
                records = np.flatnonzero([t == task for t in tasks])
                out, rows = render_task(table.take(pa.array(records)), task)
                pieces.append((out, records[rows]))
            out, rows = _in_record_order(pieces)
        # Each row's input is its record's text, taken once the rows are in their final order:
        # texts are the longest column (DuEE-fin's are documents), not to be copied twice.
        return out.set_column(INSTRUCT_COLUMNS.index("input"), "input", table.column("text").take(pa.array(rows, pa.int64())))

    def _gold(self, table: pa.Table, task: str) -> "_TableGold":
        """The annotations of a table of one task, for the whole table at once (``_TableGold``)."""
        ids = table.column("id").to_pylist()
        column = table.column(TASK_COLUMN[task]).combine_chunks()
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        values = column.flatten()  # every annotation; null lists contribute nothing
        labels = _field(values, "type")
        encoded = pc.dictionary_encode(labels)
        code = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1  # (0: a null label)
        return _TableGold(
            ids, hash64(ids, self.options.seed), values, np.repeat(np.arange(table.num_rows), lengths), labels, self.ranker.schema_positions(labels), code, len(encoded.dictionary) + 1
        )

    def _fast_members(self, gold: "_TableGold", task: str, unfit_records: np.ndarray) -> Optional[tuple]:
        """``(records, (items, triggers))``: the records whose rows the vectorized path can build
        (table positions; not ``unfit_records``, nor those with a gold label outside the schema or
        an item ``_gold_items`` cannot assemble), and their items for ``_gold_members`` (None
        without annotations); None if the task's templates or names rule the path out."""
        if self.fast_tasks.get(task) is None:
            return None
        n = len(gold.ids)
        if not len(gold.record_of):
            return np.flatnonzero(~unfit_records), None
        items, triggers, item_ok = _gold_items(gold.values, task)
        unfit = ~item_ok | (gold.position < 0)
        return np.flatnonzero(~unfit_records & (np.bincount(gold.record_of[unfit], minlength=n) == 0)), (items, triggers)

    def _gold_members(self, gold: "_TableGold", task: str, records: np.ndarray, items: pa.Array, triggers: Optional[pa.Array]) -> tuple:
        """``(gold_record, gold_position, members, trigger_members)``: the gold labels of ``records``
        (table positions, in order), each record's in order of first appearance (its gold answer's
        keys): the record's index in ``records``, the label's schema position and its answer member
        ``"name":[items]`` (NER and RE items listed once per label, as the loop's answer lists; EE
        events all); for EE, the same members with triggers only (``trigger_members``, EET rows)."""
        record_of, code = gold.record_of, gold.code
        keep = np.ones(len(record_of), dtype=bool)
        if task != "EE":
            item_code = pc.fill_null(pc.dictionary_encode(items).indices, -1).to_numpy(zero_copy_only=False)
            order = np.lexsort((np.arange(len(record_of)), item_code, code, record_of))
            repeated = (np.diff(record_of[order]) == 0) & (np.diff(code[order]) == 0) & (np.diff(item_code[order]) == 0)
            keep[order[1:][repeated]] = False
        chosen = np.zeros(len(gold.ids), dtype=bool)
        chosen[records] = True
        appearance = np.argsort(gold.first, kind="stable")
        groups = appearance[chosen[gold.group_record[appearance]]]
        rank = np.full(len(gold.first), -1, dtype=np.int64)
        rank[groups] = np.arange(len(groups))
        element_group = rank[gold.group_of]
        elements = np.flatnonzero(keep & (element_group >= 0))
        elements = elements[np.argsort(element_group[elements], kind="stable")]
        counts = np.bincount(element_group[elements], minlength=len(groups))
        gold_position = gold.position[gold.first[groups]]
        name_keys = self.fast_tasks[task]["name_keys"].take(pa.array(gold_position))
        take = pa.array(elements, pa.int64())

        def members(values: pa.Array) -> pa.Array:
            return pc.binary_join_element_wise(name_keys, "[", _joined(counts, values.take(take), ","), "]", "")

        return np.searchsorted(records, gold.group_record[groups]), gold_position, members(items), members(triggers) if triggers is not None else None

    def _render_train(self, table: pa.Table, task: str) -> tuple:
        """``(rows, record of each row)`` of a training table of one task.

        The plan is made for the whole table with numpy: each record's distinct gold labels (in
        order of first appearance: its gold answer's keys), how many negatives it gets and which.
        Records whose rows the vectorized path can build (``_fast_train_rows``: gold labels all in
        the schema, answer items JSON can be assembled from) never become Python objects; the
        others (all-empty records, labels outside the schema, nulls, relations with several
        qualifiers) go through the per-record loop."""
        options, size, k = self.options, len(self.all_labels), self.options.batch_size(task)
        gold = self._gold(table, task)
        n, ids = len(gold.ids), gold.ids
        gold_count = np.bincount(gold.group_record, minlength=n)
        # How many negatives each record gets: about negative_ratio per gold label, within the room
        # its batches leave and the schema labels it lacks; an all-empty record kept: k labels,
        # beyond the cap: none and no row (-1).
        in_schema = np.bincount(gold.group_record[gold.position[gold.first] >= 0], minlength=n)
        room = -(-gold_count // k) * k - gold_count
        wanted = np.maximum(0, np.minimum(np.minimum(size - in_schema, np.ceil(options.negative_ratio * gold_count).astype(np.int64)), room))
        threshold = self.stats["empty_threshold"]
        for i in np.flatnonzero(gold_count == 0).tolist():
            wanted[i] = k if _hash(options.seed, "empty", ids[i]) <= threshold else -1
        ranking = self.ranker.rank(gold.record_hashes, gold.record_of, gold.labels, int(wanted.max(initial=0)), positions=gold.position)

        pieces = []  # (rows, record of each row)
        fast = self._fast_members(gold, task, gold_count == 0)
        records = fast[0] if fast else np.zeros(0, dtype=np.int64)
        if len(records):
            gold_record, gold_position, members, trigger_members = self._gold_members(gold, task, records, *fast[1])
            subtask_members = trigger_members if self.fast_tasks[task]["subtask"] is not None else None
            pieces += self._fast_train_rows(table, task, records, gold_record, gold_position, members, subtask_members, wanted, ranking, gold.record_hashes)
            if subtask_members is not None:
                pieces.append(self._eea_rows(table, gold, records))
        return self._merged_with_loop(table, gold, records, pieces, (wanted, ranking))

    def _render_evaluation(self, table: pa.Table, task: str) -> tuple:
        """``(rows, record of each row)`` of an evaluation table of one task: every record asks for
        the whole schema in batches. A row's answer is its batch's empty answer unless the record
        has a gold label in the batch; only those answers are assembled (Arrow, as in training).
        Records with a gold label outside the schema (which get a batch more) or an item the
        vectorized path cannot assemble go through the loop."""
        gold = self._gold(table, task)
        n = len(gold.ids)
        fast = self._fast_members(gold, task, np.zeros(n, dtype=bool))
        records = fast[0] if fast else np.zeros(0, dtype=np.int64)
        pieces = []
        if len(records):
            parts, size, k = self.fast_tasks[task], len(self.all_labels), self.options.batch_size(task)
            schema = self._evaluation_parts(task)
            batches = len(schema["empty"])
            count = len(records) * batches
            table_record = np.repeat(records, batches)
            row_b = np.tile(np.arange(batches), len(records))
            outputs = schema["empty"].take(pa.array(row_b))
            if fast[1] is not None:
                gold_record, gold_position, members, _ = self._gold_members(gold, task, records, fast[1][0], None)
                # The rows holding a gold label, and the labels of each one's batch: a gold member
                # where the record has that label, the label's empty member elsewhere.
                answered = np.unique(gold_record * batches + gold_position // k)
                first = (answered % batches) * k
                lengths = np.minimum(first + k, size) - first
                element_row = np.repeat(answered, lengths)
                element_position = np.repeat(first, lengths) + np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
                key = element_row // batches * size + element_position
                gold_key = gold_record * size + gold_position  # distinct, in record order
                by_key = np.argsort(gold_key, kind="stable")
                found = np.minimum(np.searchsorted(gold_key[by_key], key), max(len(gold_key) - 1, 0))
                is_gold = gold_key[by_key][found] == key
                member = np.where(is_gold, size + by_key[found], element_position)
                listed = pa.concat_arrays([parts["empty_items"], members]).take(pa.array(member))
                answers = pc.binary_join_element_wise("{", _joined(lengths, listed, ","), "}", "")
                mask = np.zeros(count, dtype=bool)
                mask[answered] = True
                outputs = pc.replace_with_mask(outputs, pa.array(mask), answers)
            suffix_of_row = np.asarray(self._suffixes(task.lower(), batches), dtype=np.int64)[row_b]
            templates = len(self.candidates[task])
            choice = (row_hashes(gold.record_hashes[table_record], self.suffix_hashes[suffix_of_row]) % np.uint64(templates)).astype(np.int64)
            rows = self._rows_table(
                table,
                table_record,
                suffix_of_row,
                task=pa.repeat(pa.scalar(task, pa.string()), count),
                instruction=schema["instructions"].take(pa.array(row_b * templates + choice)),
                output=outputs,
                template_id=schema["template_ids"].take(pa.array(choice)),
                schema=schema["names"].take(pa.array(row_b)),
            )
            pieces.append((rows, table_record))
        return self._merged_with_loop(table, gold, records, pieces)

    def _merged_with_loop(self, table: pa.Table, gold: "_TableGold", records: np.ndarray, pieces: list, plan: Optional[tuple] = None) -> tuple:
        """``pieces`` (the rows of ``records``) and the rows of the table's other records, rendered
        by the loop, merged in record order. ``plan``: training's ``(wanted, ranking)`` per record."""
        n = len(gold.ids)
        loop = np.setdiff1d(np.arange(n), records, assume_unique=True)
        if len(loop):
            subset = table if len(loop) == n else table.take(pa.array(loop))
            out, rows = self._loop_rows(subset, gold.record_hashes[loop], None if plan is None else tuple(part[loop] for part in plan))
            pieces = [*pieces, (out, loop[rows])]
        return _in_record_order(pieces)

    def _evaluation_parts(self, task: str) -> dict:
        """Per schema batch of ``task``'s evaluation rows: its empty answer, names, and
        instruction in each template (``batch * templates + template``)."""
        parts = self.evaluation_parts.get(task)
        if parts is None:
            batches, candidates = self._schema_batches(task), self.candidates[task]
            parts = self.evaluation_parts[task] = {
                "empty": pa.array([batch.empty for batch in batches], pa.binary()).cast(pa.string()),
                "names": pa.array([list(batch.names) for batch in batches], pa.list_(pa.string())),
                "instructions": pa.array([self._instruction(batch, template) for batch in batches for template in candidates], pa.string()),
                "template_ids": pa.array([template["id"] for template in candidates], pa.string()),
            }
        return parts

    def _fast_train_rows(
        self,
        table: pa.Table,
        task: str,
        records: np.ndarray,
        gold_record: np.ndarray,
        gold_position: np.ndarray,
        gold_members: pa.Array,
        subtask_members: Optional[pa.Array],
        wanted: np.ndarray,
        ranking: np.ndarray,
        record_hashes: np.ndarray,
    ) -> list:
        """The training rows of ``records`` (table positions, in order) built with numpy and Arrow:
        the rows the loop would give, as ``[(rows, record of each row)]``: the task's rows, then
        (EE with sub-tasks) their EET rows.

        ``gold_record``, ``gold_position``, ``gold_members``: each record's gold labels in order of
        first appearance (its index in ``records``, schema position, answer member). Each record's
        labels -- gold labels, then its ranked negatives -- are dealt to its batches (label ``t`` to
        batch ``t % batches``); a batch lists its labels in schema order. An answer is the members
        of its labels joined, a gold member or ``"name":[]``."""
        parts, k, size = self.fast_tasks[task], self.options.batch_size(task), len(self.all_labels)
        local = np.arange(len(records))
        gold_count = np.bincount(gold_record, minlength=len(records))
        negative_count = wanted[records]
        batches = -(-gold_count // k)
        # Every (record, label) element: its record, schema position, rank t within the record and
        # answer member (an index into [empty members of the schema..., gold members...]).
        gold_t = np.arange(len(gold_record)) - np.repeat(np.cumsum(gold_count) - gold_count, gold_count)
        taken = np.arange(ranking.shape[1])[None, :] < negative_count[:, None]
        negative_positions = ranking[records][taken]
        negative_record = np.repeat(local, negative_count)
        negative_t = gold_count[negative_record] + np.arange(len(negative_record)) - np.repeat(np.cumsum(negative_count) - negative_count, negative_count)
        element_record = np.concatenate([gold_record, negative_record])
        element_position = np.concatenate([gold_position, negative_positions])
        element_member = np.concatenate([size + np.arange(len(gold_record)), negative_positions])
        row_base = np.cumsum(batches) - batches
        element_row = row_base[element_record] + np.concatenate([gold_t, negative_t]) % batches[element_record]
        sort = np.lexsort((element_position, element_row))
        rows = int(batches.sum())
        offsets = pa.array(np.concatenate([[0], np.cumsum(np.bincount(element_row, minlength=rows))]), pa.int32())
        positions = pa.array(element_position[sort])
        member_of = pa.array(element_member[sort])
        row_b = np.arange(rows) - np.repeat(row_base, batches)
        table_record = records[local.repeat(batches)]

        def rows_of(template_parts: dict, members: pa.Array) -> tuple:
            listed = lambda values: pa.ListArray.from_arrays(offsets, values)  # noqa: E731 (per row)
            answers = pc.binary_join_element_wise("{", pc.binary_join(listed(pa.concat_arrays([parts["empty_items"], members]).take(member_of)), ","), "}", "")
            row_task = template_parts["task"]
            suffix_of_row = np.asarray(self._suffixes(row_task.lower(), int(batches.max(initial=0))), dtype=np.int64)[row_b]
            hashes = row_hashes(record_hashes[table_record], self.suffix_hashes[suffix_of_row])
            choice = pa.array((hashes % np.uint64(len(template_parts["template_ids"]))).astype(np.int64))
            schema_text = pc.binary_join(listed(template_parts["described"].take(positions)), self.separator)
            out = self._rows_table(
                table,
                table_record,
                suffix_of_row,
                task=pa.repeat(pa.scalar(row_task, pa.string()), rows),
                instruction=pc.binary_join_element_wise(template_parts["prefixes"].take(choice), schema_text, template_parts["suffixes"].take(choice), ""),
                output=answers,
                template_id=template_parts["template_ids"].take(choice),
                schema=listed(parts["names"].take(positions)),
            )
            return out, table_record

        out = [rows_of(parts, gold_members)]
        if subtask_members is not None:  # EET rows: the same label batches, triggers only
            out.append(rows_of(parts["subtask"], subtask_members))
        return out

    def _eea_rows(self, table: pa.Table, gold: "_TableGold", records: np.ndarray) -> tuple:
        """The EEA rows (one per event) of ``records`` of an EE training table, and their records."""
        values, record_of = gold.values, gold.record_of
        chosen = np.zeros(len(gold.ids), dtype=bool)
        chosen[records] = True
        events = np.flatnonzero(chosen[record_of])
        take = pa.array(events)
        event_types = _field(values, "type").take(take).to_pylist()
        triggers = _field(values, "trigger", "text").take(take).to_pylist()
        arguments = _field(values, "arguments").take(take)
        counts = pc.fill_null(pc.list_value_length(arguments), 0).to_pylist()
        flat = arguments.flatten()
        roles, texts = _field(flat, "role").to_pylist(), _field(flat, "text").to_pylist()
        outputs, prompt_of_row, prompts, a = [], [], {}, 0
        for event_type, trigger, count in zip(event_types, triggers, counts):
            event_roles, output = self._eea_answer(event_type, list(zip(roles[a : a + count], texts[a : a + count])))
            a += count
            outputs.append(output)
            prompt_of_row.append(prompts.setdefault((event_type, trigger, event_roles), len(prompts)))
        # Event e of its record: row id suffix eea<e> (a fast record's events are all here, in order).
        event_record = record_of[events]
        starts = np.flatnonzero(np.r_[True, event_record[1:] != event_record[:-1]]) if len(events) else np.zeros(0, dtype=np.int64)
        e = np.arange(len(events)) - np.repeat(starts, np.diff(np.r_[starts, len(events)]))
        suffix_of_row = np.asarray(self._suffixes("eea", int(e.max(initial=-1)) + 1), dtype=np.int64)[e]
        return self._assemble(table, gold.record_hashes, event_record, suffix_of_row, outputs, np.asarray(prompt_of_row, dtype=np.int64), prompts), event_record

    def _loop_rows(self, table: pa.Table, record_hashes: np.ndarray, plan: Optional[tuple] = None) -> tuple:
        """``(rows, record of each row)`` of records rendered one by one: an evaluation table
        (``plan`` None), or training records with their ``(wanted, ranking)`` from the plan."""
        tasks = table.column("task").to_pylist()
        annotations = {
            task: _annotations(table.column(TASK_COLUMN[task]).combine_chunks(), task) for task in set(tasks) if task in TASK_COLUMN
        }
        subtasks = self.train and self.options.subtasks
        # Per row: the record it comes from, its id suffix, its answer and its prompt. A prompt is
        # what decides the instruction besides the template: a _Batch, its _Subtask (EET rows) or,
        # for EEA, (event type, trigger, roles); resolved per distinct prompt in _assemble.
        rows_record, rows_suffix, rows_output, rows_prompt = [], [], [], []
        prompts: dict = {}  # prompt -> index
        shared: dict = {}  # _EvalBatches -> (suffix indices, prompt indices) in this table

        golds = []  # per record: label -> its answer items, deduplicated (NER, RE), in record order
        for i, task in enumerate(tasks):
            offsets, labels, items, _ = annotations[task]
            gold: dict = {}
            for j in range(offsets[i], offsets[i + 1]):
                bucket = gold.setdefault(labels[j], [])
                if task == "EE":
                    trigger, arguments = items[j]
                    bucket.append({"trigger": trigger, "arguments": [{"role": role, "argument": text} for role, text in arguments]})
                elif items[j] not in bucket:
                    bucket.append(items[j])
            golds.append(gold)
        if plan is None:
            record_batches = self._evaluation_batches(tasks, golds)
        else:
            wanted, ranking = plan
            ranked = ranking.tolist()
            record_batches = [
                self._train_record_batches(task, gold, None if w < 0 else w, ranked[i]) for i, (task, gold, w) in enumerate(zip(tasks, golds, wanted.tolist()))
            ]

        for i, (task, gold, batches) in enumerate(zip(tasks, golds, record_batches)):
            if isinstance(batches, _EvalBatches):  # the common evaluation record: whole rows at once
                if batches not in shared:
                    shared[batches] = (self._suffixes(task.lower(), len(batches)), [prompts.setdefault(batch, len(prompts)) for batch in batches])
                suffixes, prompt_indices = shared[batches]
                outputs = batches.empty
                if gold:
                    outputs = list(outputs)
                    for b in {batches.of_label[label] for label in gold}:
                        outputs[b] = dump_answer(self._answer(task, batches[b], gold))
                rows_record.extend([i] * len(batches))
                rows_suffix.extend(suffixes)
                rows_output.extend(outputs)
                rows_prompt.extend(prompt_indices)
                continue
            answers = []
            for batch, suffix in zip(batches, self._suffixes(task.lower(), len(batches))):
                if gold and not gold.keys().isdisjoint(batch.labels):
                    answer = self._answer(task, batch, gold)
                    output = dump_answer(answer)
                else:
                    answer, output = None, batch.empty
                answers.append(answer)
                rows_record.append(i)
                rows_suffix.append(suffix)
                rows_output.append(output)
                rows_prompt.append(prompts.setdefault(batch, len(prompts)))
            if not (subtasks and task == "EE"):
                continue
            for batch, answer, suffix in zip(batches, answers, self._suffixes("eet", len(batches))):
                if answer is None:
                    output = batch.empty
                else:
                    output = dump_answer({name: [event["trigger"] for event in events] for name, events in answer.items()})
                rows_record.append(i)
                rows_suffix.append(suffix)
                rows_output.append(output)
                rows_prompt.append(prompts.setdefault(batch.subtask, len(prompts)))
            offsets, labels, items, _ = annotations[task]
            for j, suffix in zip(range(offsets[i], offsets[i + 1]), self._suffixes("eea", offsets[i + 1] - offsets[i])):
                trigger, arguments = items[j]
                event_roles, output = self._eea_answer(labels[j], arguments)
                rows_record.append(i)
                rows_suffix.append(suffix)
                rows_output.append(output)
                rows_prompt.append(prompts.setdefault((labels[j], trigger, event_roles), len(prompts)))
        record_of_row = np.asarray(rows_record, dtype=np.int64)
        suffix_of_row = np.asarray(rows_suffix, dtype=np.int64)
        prompt_of_row = np.asarray(rows_prompt, dtype=np.int64)
        return self._assemble(table, record_hashes, record_of_row, suffix_of_row, rows_output, prompt_of_row, prompts), record_of_row

    def _assemble(self, table: pa.Table, record_hashes: np.ndarray, record_of_row: np.ndarray, suffix_of_row: np.ndarray, outputs: list, prompt_of_row: np.ndarray, prompts: dict) -> pa.Table:
        """The rows of a table from, per row, its record, id suffix, answer (JSON bytes) and prompt
        (an index into ``prompts``): row ids, templates, instructions, schema lists and tasks are
        resolved with numpy and Arrow, each instruction text once per (prompt, template)."""
        n = len(record_of_row)
        keys = list(prompts)
        prompt_list = [self._prompt(key) for key in keys]  # (task, schema list)
        # The template of each row: its row hash modulo the number of its task's templates.
        counts = np.asarray([len(self.candidates[task]) for task, _ in prompt_list], dtype=np.uint64)
        hashes = row_hashes(record_hashes[record_of_row], self.suffix_hashes[suffix_of_row])
        choice = (hashes % counts[prompt_of_row]).astype(np.int64) if n else prompt_of_row
        pairs, pair_of_row = np.unique(prompt_of_row * _MAX_TEMPLATES + choice, return_inverse=True)
        texts, template_ids = [], []
        for pair in pairs.tolist():
            prompt, choice = divmod(pair, _MAX_TEMPLATES)
            template = self.candidates[prompt_list[prompt][0]][choice]
            texts.append(self._instruction(keys[prompt], template))
            template_ids.append(template["id"])
        pair_of_row = pa.array(pair_of_row.reshape(-1), pa.int64())
        prompt_of_row = pa.array(prompt_of_row, pa.int64())
        return self._rows_table(
            table,
            record_of_row,
            suffix_of_row,
            task=pa.array([task for task, _ in prompt_list], pa.string()).take(prompt_of_row),
            instruction=pa.array(texts, pa.string()).take(pair_of_row),
            output=pa.array(outputs, pa.binary()).cast(pa.string()),  # checks the UTF-8
            template_id=pa.array(template_ids, pa.string()).take(pair_of_row),
            schema=pa.array([names for _, names in prompt_list], pa.list_(pa.string())).take(prompt_of_row),
        )

    def _rows_table(self, table: pa.Table, record_of_row: np.ndarray, suffix_of_row: np.ndarray, **columns: pa.Array) -> pa.Table:
        """Instruction rows from their own columns (task, instruction, output, template_id,
        schema) and, per row, its record in ``table`` and its id suffix (an index into
        ``self.suffixes``); ``input`` is filled in by ``_render``."""
        count = len(record_of_row)
        take = pa.array(record_of_row, pa.int64())
        record_id = table.column("id").take(take)
        return _instruct_table(
            {
                "id": pc.binary_join_element_wise(record_id, pa.array(list(self.suffixes), pa.string()).take(pa.array(suffix_of_row)), "#"),
                "record_id": record_id,
                "corpus": table.column("corpus").take(take),
                "split": pa.repeat(pa.scalar(self.split, pa.string()), count),
                "input": pa.nulls(count, pa.string()),
                "params": pa.repeat(pa.scalar(self.params, pa.string()), count),
                **columns,
            }
        )


class _TableGold:
    """The annotations of a table of one task, flat (``record_of[j]``: annotation j's record; its
    ``labels``, schema ``position`` (-1 outside) and label ``code``), and its groups: the distinct
    (record, label) pairs, each with its record, its first annotation and its annotations."""

    def __init__(self, ids, record_hashes, values, record_of, labels, position, code, span):
        self.ids, self.record_hashes, self.values, self.record_of = ids, record_hashes, values, record_of
        self.labels, self.position, self.code = labels, position, code
        keys, self.first, self.group_of = np.unique(record_of * span + code, return_index=True, return_inverse=True)
        self.group_of = self.group_of.reshape(-1)
        self.group_record = keys // span


def _in_record_order(pieces: list) -> tuple:
    """Row tables ``[(rows, record of each row)]`` merged in record order; each record's rows stay
    in the order of the pieces, then their own."""
    if len(pieces) == 1:
        return pieces[0]
    record_of_row = np.concatenate([rows for _, rows in pieces])
    order = np.argsort(record_of_row, kind="stable")
    return pa.concat_tables([table for table, _ in pieces]).take(pa.array(order)), record_of_row[order]


def _instruct_table(columns: dict) -> pa.Table:
    """A table of the instruct schema from its columns (by name)."""
    arrays = [columns[name] for name in INSTRUCT_COLUMNS]
    return pa.Table.from_arrays([c if isinstance(c, pa.ChunkedArray) else pa.chunked_array([c]) for c in arrays], schema=INSTRUCT_SCHEMA)


def render_records(records: Iterable[dict], split: str, schema: dict, options: InstructOptions, stats: Optional[dict] = None) -> Iterator[dict]:
    """Instruction rows (dicts) for unified records (dicts), in record order: the same rows as the
    ``Dataset.map`` view, rendered by ``InstructRenderer`` a chunk of records at a time."""
    renderer = InstructRenderer(split, schema, options, stats)
    for table in _tables(records):
        yield from renderer.render(table).to_pylist()


# ---------------------------------------------------------------- parsing answers back

_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)(?:```|$)", re.S)
_FULL_WIDTH = str.maketrans({"：": ":", "，": ",", "“": '"', "”": '"', "｛": "{", "｝": "}", "［": "[", "］": "]"})
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _cut_points(text: str) -> list:
    """Offsets just after each complete value (``]``/``}``) or before each ``,`` outside strings, last first."""
    points, in_string, escaped = [], False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ",":
            points.append(i)
        elif ch in "]}":
            points.append(i + 1)
    return points[::-1]


def load_answer(answer: str):
    """The JSON object in a model answer, or None. Tolerates code fences, prose around the JSON,
    full-width punctuation, trailing commas and truncation (only complete items are recovered)."""
    import json_repair

    text = answer.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    for attempt in (text, text.translate(_FULL_WIDTH)):
        start = attempt.find("{")
        if start < 0:
            continue
        body = attempt[start:]
        end = body.rfind("}")
        for candidate in (body, body[: end + 1] if end >= 0 else body):
            for variant in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
                try:
                    value = json.loads(variant)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    return value
        # Truncated: cut after the last complete item and let json_repair close the brackets.
        for cut in _cut_points(body):
            value = json_repair.loads(body[:cut])
            if isinstance(value, dict) and value:
                return value
    return None


def parse_output(answer: str, task: str, labels: Optional[dict] = None) -> Optional[list]:
    """Structures in a model's answer (or a gold ``output``) for a row of ``task``, or None when
    nothing parses. ``labels`` maps the readable type names back to the corpus's own labels.

    Returns dicts: NER ``{type, text}``; RE ``{type, head, tail, qualifiers}``; EE ``{type,
    trigger, arguments: [{role, text}]}``; EET ``{type, trigger}``; EEA ``{role, text}``.
    """
    value = load_answer(answer) if isinstance(answer, str) else None
    if not isinstance(value, dict):
        return None
    labels = labels or {}
    out = []
    for name, items in value.items():
        type_ = labels.get(name, name)
        if not isinstance(items, list):
            continue
        for item in items:
            if task == "NER" and isinstance(item, (str, int, float)):
                out.append({"type": type_, "text": str(item)})
            elif task == "EET" and isinstance(item, (str, int, float)):
                out.append({"type": type_, "trigger": str(item)})
            elif task == "EEA" and isinstance(item, (str, int, float)):
                out.append({"role": name, "text": str(item)})
            elif task == "RE" and isinstance(item, dict) and "head" in item and "tail" in item:
                qualifiers = item.get("qualifiers") if isinstance(item.get("qualifiers"), dict) else {}
                out.append({"type": type_, "head": str(item["head"]), "tail": str(item["tail"]), "qualifiers": {str(k): str(v) for k, v in qualifiers.items()}})
            elif task == "EE" and isinstance(item, dict) and "trigger" in item:
                args = [
                    {"role": str(a["role"]), "text": str(a["argument"])}
                    for a in item.get("arguments") or []
                    if isinstance(a, dict) and "role" in a and "argument" in a
                ]
                out.append({"type": type_, "trigger": str(item["trigger"]), "arguments": args})
    return out


def structures_of(record: dict) -> list:
    """The structures of a unified record in the shape ``parse_output`` returns (for comparing)."""
    task = record["task"]
    if task == "NER":
        return [{"type": e["type"], "text": e["text"]} for e in record["entities"]]
    if task == "RE":
        return [
            {"type": r["type"], "head": r["head"]["text"], "tail": r["tail"]["text"], "qualifiers": {q["role"]: q["text"] for q in r["qualifiers"]}}
            for r in record["relations"]
        ]
    return [
        {"type": e["type"], "trigger": e["trigger"]["text"], "arguments": [{"role": a["role"], "text": a["text"]} for a in e["arguments"]]}
        for e in record["events"]
    ]


def canonical(structures: list) -> set:
    """A set of hashable strings for comparing structures regardless of order and repetition."""
    return {json.dumps(s, ensure_ascii=False, sort_keys=True) for s in structures}
