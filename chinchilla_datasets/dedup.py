"""Duplicate and leakage flags over the whole build, after every corpus's unified view is written.

Rows are flagged, never dropped silently:
- ``duplicate``: the same text occurred earlier in the same corpus split;
- ``leaks_into_test``: a ``train`` row whose text occurs in a validation or test split of any corpus;
- ``cross_corpus_duplicate``: the text occurs in another corpus too;
- ``near_duplicate`` (with ``near=True``): another record with a different text has a character
  5-gram Jaccard similarity of at least ``NEAR_THRESHOLD``, found with MinHash-LSH (datasketch),
  not an O(n²) loop.
``drop_leaks`` removes the leaking training rows from the unified and instruct views and counts them.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .outputs import split_paths
from .parquet_io import ParquetSplitWriter, parquet_batches

DUPLICATE = "duplicate"
LEAK = "leaks_into_test"
CROSS_CORPUS = "cross_corpus_duplicate"
NEAR_DUPLICATE = "near_duplicate"
EVAL_SPLITS = frozenset({"validation", "test"})
NEAR_THRESHOLD = 0.8
SHINGLE = 5
NUM_PERM = 64


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=12).digest()


def _text_batches(out: Path, entry: dict):
    """The ``text`` column of a split, a list per batch, over its Parquet files in row order."""
    for batch in parquet_batches([out / path for path in split_paths(entry)], 4096, columns=["text"]):
        yield batch.column(0).to_pylist()


def _texts(out: Path, entry: dict):
    for texts in _text_batches(out, entry):
        yield from texts


def find_flags(out: Path, unified: list, near: bool = False) -> dict:
    """``{(config name, split): {row index: [flags]}}`` for the unified configs in ``unified``.

    Every row's text is reduced to a 12-byte digest held in NumPy arrays (about 40 bytes a row
    with the sort's temporaries, where a dict of sets of places cost ~400): duplicates, leaks and
    cross-corpus texts are then found by sorting, not by Python objects per row."""
    corpora: dict = {}
    digests, corpus_rows, evaluation_rows, spans = [], [], [], []
    for config in unified:
        corpus = corpora.setdefault(config.corpus, len(corpora))
        for split, entry in config.splits.items():
            buffer = bytearray()
            for texts in _text_batches(out, entry):
                buffer += b"".join(map(_digest, texts))
            split_digests = np.frombuffer(bytes(buffer), dtype="S12")
            digests.append(split_digests)
            corpus_rows.append(np.full(len(split_digests), corpus, dtype=np.int32))
            evaluation_rows.append(np.full(len(split_digests), split in EVAL_SPLITS))
            spans.append((config.name, split, len(split_digests)))
    flags: dict = defaultdict(dict)
    if digests:
        _, texts = np.unique(np.concatenate(digests), return_inverse=True)  # row -> its text's index
        texts = texts.reshape(-1)
        del digests
        count = int(texts.max()) + 1 if len(texts) else 0
        in_evaluation = np.zeros(count, dtype=bool)
        in_evaluation[texts[np.concatenate(evaluation_rows)]] = True
        pairs = np.unique(texts.astype(np.int64) * len(corpora) + np.concatenate(corpus_rows))  # (text, corpus) pairs
        corpora_per_text = np.bincount(pairs // len(corpora), minlength=count)
        del pairs
        start = 0
        for name, split, rows in spans:
            ids = texts[start : start + rows]
            start += rows
            duplicate = np.ones(rows, dtype=bool)
            duplicate[np.unique(ids, return_index=True)[1]] = False  # the first row of a text is not a duplicate
            leak = in_evaluation[ids] if split == "train" else np.zeros(rows, dtype=bool)
            cross = corpora_per_text[ids] > 1
            for i in np.flatnonzero(duplicate | leak | cross).tolist():
                flags[(name, split)][i] = [flag for flag, on in ((DUPLICATE, duplicate[i]), (LEAK, leak[i]), (CROSS_CORPUS, cross[i])) if on]
    if near:
        for key, i in _near_duplicates(out, unified):
            flags[key].setdefault(i, []).append(NEAR_DUPLICATE)
    return flags


def _near_duplicates(out: Path, unified: list):
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=NUM_PERM)
    keys, hashes, digests = [], [], {}
    for config in unified:
        for split, entry in config.splits.items():
            texts = list(_texts(out, entry))
            shingles = [{t[j : j + SHINGLE].encode() for j in range(max(1, len(t) - SHINGLE + 1))} for t in texts]
            for i, m in enumerate(MinHash.bulk(shingles, num_perm=NUM_PERM)):
                key = f"{config.name}\t{split}\t{i}"
                keys.append(key)
                hashes.append(m)
                digests[key] = _digest(texts[i])
    with lsh.insertion_session() as session:
        for key, m in zip(keys, hashes):
            session.insert(key, m)
    for key, m in zip(keys, hashes):
        if any(other != key and digests[other] != digests[key] for other in lsh.query(m)):
            name, split, i = key.split("\t")
            yield (name, split), int(i)


def rewrite(out: Path, entry: dict, config_name: str, split: str, transform) -> dict:
    """Stream a split's Parquet files through ``transform(offset, batch) -> batch`` (``offset``: the
    split's row index of the batch's first row) into new fingerprinted files, sharded as
    ``write_split`` shards; the old files are removed."""
    sources = [out / path for path in split_paths(entry)]
    schema = pq.read_schema(sources[0])
    writer = ParquetSplitWriter(out, config_name, split, schema=schema, options={}, row_group_rows=None)
    offset, nbytes = 0, 0
    for batch in parquet_batches(sources, 4096):
        rows = batch.num_rows
        batch = transform(offset, batch)
        offset += rows
        writer.write(batch)
        nbytes += batch.nbytes
    written = writer.close()
    for source in sources:
        if f"{config_name}/{source.name}" not in written["paths"]:
            source.unlink()
    return {**written, "num_bytes": nbytes}


def apply_flags(out: Path, results: list, near: bool = False, drop_leaks: bool = False) -> None:
    """Flag duplicates and leaks in every unified config (updating ``results`` in place), and
    with ``drop_leaks`` remove leaking training rows from the unified and instruct views."""
    unified = [c for r in results for c in r.configs if c.view == "unified"]
    flags = find_flags(out, unified, near)
    for result in results:
        for config in result.configs:
            if config.view != "unified":
                continue
            dropped_ids = set()
            for split, entry in list(config.splits.items()):
                row_flags = flags.get((config.name, split), {})
                counts = Counter(f for fs in row_flags.values() for f in fs)
                note = result.report.setdefault(split, {})
                note.update({"duplicates": counts[DUPLICATE], "leaks_into_test": counts[LEAK], "cross_corpus_duplicates": counts[CROSS_CORPUS]})
                if near:
                    note["near_duplicates"] = counts[NEAR_DUPLICATE]
                drop = drop_leaks and split == "train"
                if not row_flags:
                    continue

                def transform(offset, batch, row_flags=row_flags, drop=drop, dropped_ids=dropped_ids):
                    names = batch.schema.names
                    flag_col = batch.column(names.index("flags")).to_pylist()
                    keep = []
                    for j in range(batch.num_rows):
                        extra = row_flags.get(offset + j)
                        if extra:
                            flag_col[j] = flag_col[j] + [f for f in extra if f not in flag_col[j]]
                        leaking = drop and extra and LEAK in extra
                        if leaking:
                            dropped_ids.add(batch.column(names.index("id"))[j].as_py())
                        keep.append(not leaking)
                    columns = list(batch.columns)
                    columns[names.index("flags")] = pa.array(flag_col, type=batch.schema.field("flags").type)
                    return pa.RecordBatch.from_arrays(columns, schema=batch.schema).filter(pa.array(keep))

                _set_split(out, config, split, rewrite(out, entry, config.name, split, transform))
                if drop:
                    note["dropped_leaks"] = len(dropped_ids)
            instruct = next((c for c in result.configs if c.view == "instruct"), None)
            if dropped_ids and instruct is not None and "train" in instruct.splits:

                def drop_rows(offset, batch):
                    record_ids = batch.column(batch.schema.names.index("record_id")).to_pylist()
                    return batch.filter(pa.array([rid not in dropped_ids for rid in record_ids]))

                entry = rewrite(out, instruct.splits["train"], instruct.name, "train", drop_rows)
                result.report["train"]["instruct_after_drop"] = entry["num_examples"]
                _set_split(out, instruct, "train", entry)
        result.configs = [c for c in result.configs if c.splits]


def _set_split(out: Path, config, split: str, entry: dict) -> None:
    """Record a rewritten split; one left with no row cannot be loaded, so it is removed."""
    if entry["num_examples"]:
        config.splits[split] = entry
    else:
        for path in entry["paths"]:
            (out / path).unlink()
        config.splits.pop(split, None)
