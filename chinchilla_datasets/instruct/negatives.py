"""Negative types for training rows: the training split's statistics (type co-occurrence counts for
hard negatives, the hash threshold of the all-empty records kept under the cap), the ranking of
negative types per record (``NegativeRanker``, numpy over a whole table) and how gold and negative
types are dealt into batches (``train_batches``)."""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Iterable, Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import TASK_COLUMN
from .templates import RENDER_CHUNK, UNIFIED_SCHEMA, InstructOptions, gc_paused, hash64, mix64, seeded_hash


def corpus_stats(records: Iterable[dict], schema: dict, options: InstructOptions) -> dict:
    """``table_stats`` of unified records given as dicts."""
    return table_stats(record_tables(records), schema, options)


def record_tables(records: Iterable[dict]) -> Iterator[pa.Table]:
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
                empty_hashes.extend(seeded_hash(options.seed, "empty", record_id) for record_id in empty_ids)
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


def train_batches(gold: list, negatives: list, k: int, rank: dict) -> list:
    """Gold labels plus negatives (hardest first), spread so that every batch holds a gold label;
    each batch in schema order (``rank``: ``{label: position}``, labels outside the schema last)."""
    batches = math.ceil(len(gold) / k)
    if batches == 1:
        return [sorted(gold + negatives, key=rank.__getitem__)]
    chunks = [[] for _ in range(batches)]
    for i, label in enumerate(gold + negatives):
        chunks[i % batches].append(label)
    return [sorted(chunk, key=rank.__getitem__) for chunk in chunks]


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
