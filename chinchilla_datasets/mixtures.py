"""The mixture configs ``all_unified`` and ``all_instruct``: every corpus's rows per split, each
corpus capped (the rows whose record ids hash smallest, so no corpus drowns the others), concatenated
and shuffled with the build seed — the rows and order of ``concatenate_datasets(...).shuffle(seed)``,
written from the corpora's Parquet files batch by batch through bucket files, never from a
memory-mapped table.

Constants of ``parquet_io`` are read as ``parquet_io.ROW_GROUP_ROWS`` at call time, so that tests can
make them small.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import parquet_io
from .datasets_adapter import arrow_writer_batch_size, cast_table
from .outputs import ConfigOutput, split_order, split_paths
from .registry import builders
from .schema import INSTRUCT_FEATURES, UNIFIED_FEATURES

# The mixture shuffle spreads rows over at most this many temporary bucket files (open at once).
MAX_BUCKETS = 256
# The mixture configs (all_unified, all_instruct) take at most this many rows of each corpus per
# split (None: no cap), chosen by a hash of the record id, so no corpus drowns the others.
DEFAULT_MIXTURE_CAPS = {"train": 50_000, "validation": 5_000, "test": 5_000}
MIXTURE = "all"
# The mixtures are the Chinese collection: corpora in another language (the English sources of the
# translation stage) are left out; their translations (``<corpus>_zh``) are Chinese and go in.
MIXTURE_LANGUAGE = "zh"


def corpus_language(name: str) -> str:
    """The language of a built corpus: its builder's, or Chinese for a corpus without a builder
    (the translated ``<corpus>_zh`` corpora)."""
    builder = builders().get(name)
    return builder.corpus.language if builder is not None else MIXTURE_LANGUAGE


def _hash_key(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8]


def capped_rows(paths: list, key: str, seed: int, cap: int) -> np.ndarray:
    """Positions (ascending) of the ``cap`` rows of a split whose ``key`` column hashes smallest
    (ties: the earlier row), read from its Parquet files one key column batch at a time; memory
    stays at ``cap`` entries whatever the size of the split."""
    counter = itertools.count()

    def keyed():
        for batch in parquet_io.parquet_batches(paths, parquet_io.ROW_GROUP_ROWS, columns=[key]):
            for value in batch.column(0).to_pylist():
                yield (_hash_key(seed, value), next(counter))

    return np.array(sorted(i for _, i in heapq.nsmallest(cap, keyed())), dtype=np.int64)


@dataclass
class MixturePart:
    """One corpus's split in a mixture: its Parquet files, row count and the rows taken (None: all)."""

    paths: list
    rows: int
    selected: Optional[np.ndarray] = None

    @property
    def size(self) -> int:
        return self.rows if self.selected is None else len(self.selected)


POSITION = "__chinchilla_position__"  # the output row of a row in a bucket file


def write_shuffled(parts: list, seed: int, features, out: Path, config: str, split: str, scratch: str) -> dict:
    """Write ``concatenate_datasets(parts).shuffle(seed=seed).flatten_indices()`` (each part reduced
    to its selected rows) as a Parquet split: the same rows in the same order, read from the parts'
    Parquet files sequentially, never from a memory-mapped table.

    The permutation is the one ``shuffle`` draws. Each row read is sent to the bucket file of the
    output rows it lands in (``ROW_GROUP_ROWS`` output rows per bucket, more when that would make
    over ``MAX_BUCKETS`` files), tagged with its output position; then the buckets are read back
    in order, one at a time, sorted by position and written. Memory stays at one bucket and one
    Parquet row group, plus int64 arrays over the rows of the mixture (bounded by the caps)."""
    batch_size = parquet_io.ROW_GROUP_ROWS
    sizes = [part.size for part in parts]
    total = sum(sizes)
    permutation = np.random.default_rng(seed).permutation(total)  # output row -> selected row
    position = np.empty(total, dtype=np.int64)
    position[permutation] = np.arange(total, dtype=np.int64)  # selected row -> output row
    bucket_rows = batch_size * max(1, -(-total // (batch_size * MAX_BUCKETS)))
    schema = features.arrow_schema
    tagged = schema.append(pa.field(POSITION, pa.int64()))
    folder = Path(scratch) / f"{config}-{split}"
    folder.mkdir(parents=True)
    writers: dict = {}
    try:
        base = 0
        for part, size in zip(parts, sizes):
            offset = 0  # row of the part at the start of the batch
            for batch in parquet_io.parquet_batches(part.paths, batch_size):
                if part.selected is None:
                    local = np.arange(batch.num_rows, dtype=np.int64)
                    first = base + offset
                else:
                    lo, hi = np.searchsorted(part.selected, [offset, offset + batch.num_rows])
                    local = part.selected[lo:hi] - offset
                    first = base + lo
                offset += batch.num_rows
                if not len(local):
                    continue
                table = pa.Table.from_batches([batch]).take(pa.array(local))
                if not table.schema.equals(schema, check_metadata=False):
                    table = cast_table(table, schema)
                where = position[first : first + len(local)]
                table = table.append_column(POSITION, pa.array(where)).cast(tagged)
                buckets = where // bucket_rows
                grouped = np.argsort(buckets, kind="stable")
                bounds = np.flatnonzero(np.diff(buckets[grouped])) + 1
                for chunk in np.split(grouped, bounds):
                    bucket = int(buckets[chunk[0]])
                    if bucket not in writers:
                        writers[bucket] = pa.ipc.new_stream(str(folder / f"{bucket:06d}.arrow"), tagged)
                    writers[bucket].write_table(table.take(pa.array(chunk)))
            if offset != part.rows:
                raise AssertionError(f"{part.paths}: {offset} rows, expected {part.rows}")
            base += size
        for writer in writers.values():
            writer.close()
        writers.clear()
        writer = parquet_io.ParquetSplitWriter(out, config, split, features)
        nbytes = 0
        for bucket in range(-(-total // bucket_rows)):
            with pa.OSFile(str(folder / f"{bucket:06d}.arrow")) as source:
                table = pa.ipc.open_stream(source).read_all()
            table = table.take(pc.sort_indices(table.column(POSITION))).drop_columns([POSITION])
            writer.write(table)
            nbytes += _cached_nbytes(table, features)
            del table
            os.unlink(folder / f"{bucket:06d}.arrow")
        entry = writer.close()
        entry["num_bytes"] = nbytes
        return entry
    finally:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(folder, ignore_errors=True)


def _cached_nbytes(table: pa.Table, features) -> int:
    """``nbytes`` of ``table`` once written to and read back from a ``datasets`` Arrow cache file
    (record batches of the writer's size, no validity bitmap where there is no null): the size
    the card gave a mixture split when it was written from such a file."""
    chunk = arrow_writer_batch_size(features)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table, max_chunksize=chunk)
    return pa.ipc.open_stream(sink.getvalue()).read_all().nbytes


def build_mixtures(out: Path, results: list, seed: int = 42, caps: Optional[dict] = None) -> list:
    """``all_unified`` and ``all_instruct``: every Chinese corpus's rows per split, each corpus capped
    (rows of the records with the smallest id hashes), concatenated and shuffled with ``seed``.
    Read from the corpora's Parquet files, batch by batch (see :func:`write_shuffled`)."""
    caps = DEFAULT_MIXTURE_CAPS if caps is None else caps
    results = [result for result in results if corpus_language(result.name) == MIXTURE_LANGUAGE]
    mixtures = []
    with tempfile.TemporaryDirectory(prefix="chinchilla-mixture-") as scratch:
        for view, features in (("unified", UNIFIED_FEATURES), ("instruct", INSTRUCT_FEATURES)):
            parts: dict = {}
            for result in results:
                for config in result.configs:
                    if config.view != view:
                        continue
                    for split, entry in config.splits.items():
                        part = MixturePart(paths=[out / path for path in split_paths(entry)], rows=entry["num_examples"])
                        cap = caps.get(split)
                        if cap is not None and part.rows > cap:
                            part.selected = capped_rows(part.paths, "record_id" if view == "instruct" else "id", seed, cap)
                        parts.setdefault(split, []).append(part)
            config = ConfigOutput(name=f"{MIXTURE}_{view}", corpus=MIXTURE, view=view, features=features)
            for split in sorted(parts, key=split_order):
                if sum(part.size for part in parts[split]):
                    config.splits[split] = write_shuffled(parts[split], seed, features, out, config.name, split, scratch)
            if config.splits:
                mixtures.append(config)
    return mixtures

