"""Writing and reading the Parquet files of a built folder.

A split is written as Parquet files named by their content hashes (``<config>/<split>-<fingerprint>.parquet``,
several ``-00000-of-00003-`` shards past ``SHARD_ROWS`` rows, so that nodes can read disjoint files),
with row groups of ``ROW_GROUP_ROWS`` rows and the writer options of ``Dataset.to_parquet``. File names
carry a fingerprint of their content: ``datasets`` keys its cache of a local folder on the card, so a
rebuild with new rows must change the card or users would be served the old rows from their cache.

Reading is one file and one record batch at a time, on the calling thread, never through a memory
map: pages of a mapping stay resident as long as it lives, and a reader's buffers as long as it is
open (docs/performance.md, "Memory, Parquet readers").
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Iterator, Optional

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from .datasets_adapter import cache_file_paths, cast_table, default_cdc_options, parquet_column_options
from .outputs import split_paths

ROW_GROUP_ROWS = 10_000
# A split of more rows is written as several Parquet files (shards), so that readers on several
# nodes (datasets.distributed.split_dataset_by_node) read disjoint files. A multiple of ROW_GROUP_ROWS.
SHARD_ROWS = 100_000


def sha256_file(path: str) -> str:
    """The SHA-256 of a file; of a folder (one file per document, CASIE), of its files' relative
    paths and contents in sorted order."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for dirpath, dirnames, filenames in sorted(os.walk(path)):
            dirnames.sort()
            for name in sorted(filenames):
                file_path = os.path.join(dirpath, name)
                digest.update(os.path.relpath(file_path, path).encode() + b"\0" + bytes.fromhex(sha256_file(file_path)))
        return digest.hexdigest()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_split(ds: datasets.Dataset, out: Path, config: str, split: str) -> dict:
    """Write one split as Parquet files named by their content hashes (several past ``SHARD_ROWS``
    rows); return its card entry ``{"paths", "num_examples", "num_bytes"}``.

    The rows are read from the dataset's Arrow cache files through ordinary file reads, one
    record batch at a time, not from its memory-mapped table: every page of a mapping that is
    read stays in the process's resident memory as long as the mapping lives, so writing a
    DuIE instruct split (~1 GB at twice the official size) from the mapping made the peak RSS
    grow with the input."""
    writer = ParquetSplitWriter(out, config, split, ds.features)
    for batch in arrow_batches(ds):
        writer.write(batch)
    entry = writer.close()
    if entry["num_examples"] != len(ds):
        raise AssertionError(f"{config}/{split}: wrote {entry['num_examples']} rows of {len(ds)}")
    # num_bytes: the uncompressed size of the Parquet data, fixed by the files' bytes. (Arrow's
    # nbytes varies with how the rows happen to be chunked, e.g. by num_proc; and reading it from
    # the memory map walks the offsets of every column.)
    entry["num_bytes"] = sum(
        metadata.row_group(i).total_byte_size
        for path in entry["paths"]
        for metadata in [pq.ParquetFile(out / path).metadata]
        for i in range(metadata.num_row_groups)
    )
    return entry


def arrow_batches(ds: datasets.Dataset, batch_size: int = ROW_GROUP_ROWS):
    """The rows of ``ds`` as Arrow record batches (or tables), in order, in bounded memory.

    A dataset that is exactly its Arrow cache files (as ``as_dataset()`` and ``map`` return it)
    is read from those files with a regular file stream: each batch is read into memory and freed
    once written, and the memory-mapped table is never touched. Any other dataset (in memory, with
    an indices mapping, sliced or cast) is read through ``datasets``."""
    paths = cache_file_paths(ds)
    if paths is None:
        yield from ds.with_format("arrow").iter(batch_size=batch_size)
        return
    for path in paths:
        with pa.OSFile(path) as source:
            yield from pa.ipc.open_stream(source)


class ParquetSplitWriter:
    """Writes the rows of one split, given in order as Arrow record batches or tables, as Parquet
    files of at most ``SHARD_ROWS`` rows each, with row groups of ``ROW_GROUP_ROWS`` (readers hold
    one row group at a time) and the writer options of ``Dataset.to_parquet``. Memory stays at
    one row group.

    A split of one file is ``<config>/<split>-<fingerprint>.parquet``; a larger one is
    ``<config>/<split>-00000-of-00003-<fingerprint>.parquet``, ... (names sort in row order; each
    file fingerprinted by its own content). ``schema``, ``options`` and ``row_group_rows=None``
    (each ``write`` is one row group, cut only at a file boundary) serve rewriting a split with a
    plain ``pq.ParquetWriter``."""

    def __init__(self, out: Path, config: str, split: str, features: Optional[datasets.Features] = None, *, schema: Optional[pa.Schema] = None, options: Optional[dict] = None, row_group_rows="default"):
        self.folder, self.config, self.split = Path(out) / config, config, split
        self.folder.mkdir(parents=True, exist_ok=True)
        self.schema = features.arrow_schema if schema is None else schema
        if options is None:
            self.cdc = default_cdc_options()
            options = {"use_content_defined_chunking": self.cdc, "write_page_index": True, **parquet_column_options(features, self.schema)}
        else:
            self.cdc = options.get("use_content_defined_chunking")
        self.options = options
        self.row_group_rows = ROW_GROUP_ROWS if row_group_rows == "default" else row_group_rows
        self.shard_rows = SHARD_ROWS
        self.files: list = []  # temporary files written, in order
        self.writer = None
        self.file_rows = 0
        self.pending: list = []
        self.pending_rows = 0
        self.rows = 0

    def write(self, data) -> None:
        """Append ``data`` (a record batch or table whose columns are the schema's)."""
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        if not table.schema.equals(self.schema, check_metadata=False):
            table = cast_table(table, self.schema)
        if not table.num_rows:
            return
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.row_group_rows is None:
            self._flush(self.pending_rows)
            return
        while self.pending_rows >= self.row_group_rows:
            self._flush(self.row_group_rows)

    def _flush(self, rows: int) -> None:
        """Write the first ``rows`` pending rows, as row groups cut at file boundaries."""
        table = pa.concat_tables(self.pending) if len(self.pending) > 1 else self.pending[0]
        done = 0
        while done < rows:
            if self.writer is None or self.file_rows >= self.shard_rows:
                self._open()
            # One contiguous chunk per row group: the writer cuts pages at chunk boundaries, so
            # the bytes would depend on how the rows arrived (e.g. one Arrow file per num_proc shard).
            group = table.slice(done, min(rows - done, self.shard_rows - self.file_rows)).combine_chunks()
            self.writer.write_table(group)
            self.file_rows += group.num_rows
            done += group.num_rows
        self.rows += rows
        rest = table.slice(rows)
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows = rest.num_rows

    def _open(self) -> None:
        self._close_file()
        tmp = self.folder / f".{self.split}-{len(self.files):05d}.parquet.tmp"
        self.files.append(tmp)
        self.writer = pq.ParquetWriter(str(tmp), schema=self.schema, **self.options)
        self.file_rows = 0

    def _close_file(self) -> None:
        if self.writer is not None:
            if self.cdc:
                self.writer.add_key_value_metadata({"content_defined_chunking": json.dumps(self.cdc)})
            self.writer.close()
            self.writer = None

    def close(self) -> dict:
        """Finish the files and name them by their content; return ``{"paths", "num_examples"}``
        (paths relative to the built folder, in row order). A split with no row is one empty file."""
        if self.pending_rows:
            self._flush(self.pending_rows)
        if not self.files:
            self._open()
        self._close_file()
        paths = []
        for i, tmp in enumerate(self.files):
            fingerprint = sha256_file(str(tmp))[:16]
            shard = "" if len(self.files) == 1 else f"-{i:05d}-of-{len(self.files):05d}"
            final = self.folder / f"{self.split}{shard}-{fingerprint}.parquet"
            os.replace(tmp, final)
            paths.append(f"{self.config}/{final.name}")
        return {"paths": paths, "num_examples": self.rows}


def parquet_batches(paths: Iterable, batch_size: int, columns: Optional[list] = None) -> Iterator[pa.RecordBatch]:
    """The record batches of Parquet files, in order, one file open at a time and decoded on the
    calling thread. A reader keeps what it has read until it is closed, and the buffers of the
    decoding threads stay with the allocator: either way the memory of reading a split grew with
    its size (docs/performance.md, "Memory, Parquet readers")."""
    for path in paths:
        with pq.ParquetFile(path) as parquet:
            yield from parquet.iter_batches(batch_size=batch_size, columns=columns, use_threads=False)


def config_files(out: str) -> dict:
    """``{config: {split: [Path, ...]}}`` as listed in a built folder's card: each split's Parquet
    files in row order."""
    from huggingface_hub import DatasetCard

    root = Path(out)
    card = DatasetCard.load(root / "README.md")
    return {c["config_name"]: {f["split"]: [root / p for p in split_paths(f)] for f in c["data_files"]} for c in card.data["configs"]}


def iter_split(out: str, config: str, split: str, batch_size: int = 1000):
    """Rows (dicts) of one config split of a built folder, read batch by batch from its Parquet files."""
    files = config_files(out)
    if config not in files:
        raise KeyError(f"config {config!r} is not in {out}; built: {', '.join(sorted(files))}")
    if split not in files[config]:
        raise KeyError(f"split {split!r} is not in {config}; has: {', '.join(files[config])}")
    for batch in parquet_batches(files[config][split], batch_size):
        yield from batch.to_pylist()
