"""Building the collection: every corpus, three views, into one multi-config dataset folder.

OUT gets one folder per config holding the Parquet files of each split (one, or several of at most
``SHARD_ROWS`` rows for a large split, so that nodes can read disjoint files), a ``README.md`` whose YAML
lists every config with its data files and ``dataset_info`` (the layout ``push_to_hub`` writes,
so stock ``load_dataset`` reads it), and ``build_report.json``. File names carry a fingerprint
of their content: ``datasets`` keys its cache of a local folder on the card, so a rebuild with
new rows must change the card or users would be served the old rows from their cache.

OUT is written to a sibling temporary folder and moved into place only when complete.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import multiprocessing
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datasets.table import InMemoryTable

from . import base
from .instruct import TRAIN_SPLIT, InstructOptions, InstructRenderer, table_stats
from .registry import builders, get_builder
from .schema import INSTRUCT_FEATURES, TASK_COLUMN, UNIFIED_FEATURES

REPORT_FILE = "build_report.json"
ROW_GROUP_ROWS = 10_000
RENDER_BATCH = 2_000  # unified records per Dataset.map call of the instruct view
RENDER_CHUNK_ROWS = 50_000  # unified records held in memory at a time while rendering (a multiple of RENDER_BATCH)
# A split of more rows is written as several Parquet files (shards), so that readers on several
# nodes (datasets.distributed.split_dataset_by_node) read disjoint files. A multiple of ROW_GROUP_ROWS.
SHARD_ROWS = 100_000
# The mixture shuffle spreads rows over at most this many temporary bucket files (open at once).
MAX_BUCKETS = 256
# The mixture configs (all_unified, all_instruct) take at most this many rows of each corpus per
# split (None: no cap), chosen by a hash of the record id, so no corpus drowns the others.
DEFAULT_MIXTURE_CAPS = {"train": 50_000, "validation": 5_000, "test": 5_000}
MIXTURE = "all"


def bundled_fixtures() -> Path:
    """The small fixture corpora shipped with the package (the default input of ``chinchilla build``)."""
    return Path(str(resources.files("chinchilla_datasets") / "fixtures"))


@dataclass
class ConfigOutput:
    """One written config: its features and, per split, the Parquet file and sizes."""

    name: str
    corpus: str
    view: str
    features: datasets.Features
    splits: dict = field(default_factory=dict)  # split -> {"paths", "num_examples", "num_bytes"}


@dataclass
class CorpusOutput:
    name: str
    configs: list
    report: dict  # split -> counts and rejections
    sources: dict  # file name -> sha256
    schema: Optional[dict] = None


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
    paths = _cache_file_paths(ds)
    if paths is None:
        yield from ds.with_format("arrow").iter(batch_size=batch_size)
        return
    for path in paths:
        with pa.OSFile(path) as source:
            yield from pa.ipc.open_stream(source)


def _cache_file_paths(ds: datasets.Dataset) -> Optional[list]:
    """The Arrow files whose record batches, concatenated, are exactly the rows of ``ds``; None
    when the dataset is anything else. Replacing the schema metadata (``datasets`` records the
    features there) does not change rows."""
    from datasets.table import ConcatenationTable, MemoryMappedTable

    if ds._indices is not None:
        return None
    table = ds.data
    blocks = table.blocks if isinstance(table, ConcatenationTable) else [[table]]
    paths = []
    for row in blocks:
        if len(row) != 1 or not isinstance(row[0], MemoryMappedTable):
            return None
        if any(name != "replace_schema_metadata" for name, _, _ in row[0].replays):
            return None
        paths.append(row[0].path)
    return paths


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
        from datasets.arrow_writer import get_parquet_column_options

        self.folder, self.config, self.split = Path(out) / config, config, split
        self.folder.mkdir(parents=True, exist_ok=True)
        self.schema = features.arrow_schema if schema is None else schema
        if options is None:
            self.cdc = datasets.config.DEFAULT_CDC_OPTIONS
            options = {"use_content_defined_chunking": self.cdc, "write_page_index": True, **get_parquet_column_options(features, self.schema)}
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
            from datasets.table import table_cast

            table = table_cast(table, self.schema)
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


def split_paths(entry: dict) -> list:
    """The Parquet files of a split entry (paths relative to the built folder), in row order.
    Entries hold ``paths``; a card's ``data_files`` entry holds ``path``, a string or a list."""
    paths = entry["paths"] if "paths" in entry else entry["path"]
    return [paths] if isinstance(paths, str) else list(paths)


def corpus_ready(name: str, corpus_dir: Path) -> Optional[str]:
    """None when ``corpus_dir`` holds at least one split file of ``name``, else the one-line reason."""
    corpus = get_builder(name).corpus
    if not corpus_dir.is_dir():
        return f"{name}: folder {corpus_dir} not found; expected " + ", ".join(corpus.expected_files())
    split_names = {n for names in corpus.files.values() for n in names}
    for _, folders, files in os.walk(corpus_dir):
        if split_names & set(files + folders) or any(f.endswith((".zip", ".tar.gz", ".tgz", ".tar")) for f in files):
            return None
    return corpus.missing_message(str(corpus_dir))


def render_instruct(unified: datasets.DatasetDict, schema: dict, options: InstructOptions, num_proc: int = 1, desc: str = "") -> tuple:
    """The instruct view of a unified DatasetDict with ``Dataset.map``, and per-split notes for the report.

    ``map`` hands the renderer Arrow tables (``arrow`` format) of only the columns it reads and
    writes the Arrow tables it returns: no row is converted to a Python dict on either side. The
    unified rows are read from their cache files with ordinary file reads (``arrow_batches``), a
    chunk of ``RENDER_CHUNK_ROWS`` at a time, into an in-memory dataset that ``map`` renders into a
    cache file beside the unified ones; the split is the concatenation of those files. (``map``
    over the memory-mapped unified dataset kept every page it read resident: memory grew with
    the input.)"""
    out, notes = {}, {}
    for split, ds in unified.items():
        column = TASK_COLUMN.get(ds.data.column("task")[0].as_py()) if len(ds) else None
        stats = None
        if split == TRAIN_SPLIT:  # (no column: no row)
            tables = (pa.Table.from_batches([batch.select(["id", "task", column])]) for batch in arrow_batches(ds)) if column else ()
            stats = table_stats(tables, schema, options)
        renderer = InstructRenderer(split, schema, options, stats)
        folder = os.path.dirname(ds.cache_files[0]["filename"]) if ds.cache_files else None
        parts = []
        for chunk in _chunks(arrow_batches(ds), ["id", "corpus", "task", "text", column] if column else None):
            # Fingerprints given, not computed: datasets would hash the whole chunk, then the renderer.
            name = f"instruct-{uuid.uuid4().hex}"  # (fingerprints: at most 64 characters, num_proc suffixes included)
            part = datasets.Dataset(InMemoryTable(chunk), fingerprint=f"{name}-in").with_format("arrow")
            parts.append(
                part.map(
                    renderer,
                    batched=True,
                    batch_size=RENDER_BATCH,
                    remove_columns=part.column_names,
                    features=INSTRUCT_FEATURES,
                    num_proc=num_proc if num_proc > 1 else None,
                    load_from_cache_file=False,
                    cache_file_name=os.path.join(folder, f"{name}.arrow") if folder else None,
                    new_fingerprint=name,
                    desc=f"{desc}/{split}",
                ).with_format(None)
            )
        out[split] = datasets.concatenate_datasets(parts) if parts else datasets.Dataset.from_dict({}, features=INSTRUCT_FEATURES)
        notes[split] = {"instruct": len(out[split])}
        if stats:
            notes[split].update(empty_records=stats["empty_records"], empty_records_kept=stats["empty_kept"])
    return datasets.DatasetDict(out), notes


def _chunks(batches, columns: Optional[list]):
    """Record batches regrouped into tables of about ``RENDER_CHUNK_ROWS`` rows (of ``columns``)."""
    pending, rows = [], 0
    for batch in batches:
        pending.append(batch.select(columns) if columns else batch)
        rows += batch.num_rows
        if rows >= RENDER_CHUNK_ROWS:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if rows:
        yield pa.Table.from_batches(pending)


def build_corpus(name: str, corpus_dir: str, out: str, num_proc: int = 1, options: InstructOptions = InstructOptions()) -> CorpusOutput:
    """Build the three views of one corpus into ``out``; each view's Parquet files are final."""
    cls = get_builder(name)
    out_path = Path(out)
    configs = []
    with tempfile.TemporaryDirectory(prefix=f"chinchilla-{name}-") as cache:
        # A private cache: a reused cache would skip generation and the report would be empty.
        def prepared(view: str):
            builder = cls(config_name=f"{name}_{view}", data_dir=corpus_dir, cache_dir=cache)
            builder.download_and_prepare(download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD, num_proc=num_proc if num_proc > 1 else None)
            # A split whose every record was rejected has no data: it is left out (and reported).
            splits = [s for s, info in builder.info.splits.items() if info.num_examples > 0]
            return builder, datasets.DatasetDict({s: builder.as_dataset(split=s) for s in splits})

        raw_builder, raw = prepared("raw")
        report = {split: dict(counts) for split, counts in raw_builder.report.items()}
        sources = {os.path.basename(p): sha256_file(p) for p in raw_builder.source_files.values()}
        schema = None
        if raw:
            configs.append(_write_config(raw, out_path, name, "raw", raw_builder.info.features))
        labelled = [s for s in raw if s not in cls.corpus.unlabelled_splits]
        # Each view's datasets are dropped once written: a memory-mapped file stays mapped (and
        # its pages read so far resident) as long as a dataset refers to it.
        del raw, raw_builder
        if labelled:
            unified_builder, unified = prepared("unified")
            for split, counts in unified_builder.report.items():
                report[split]["unified"] = counts["unified"]
                report[split]["unified_rejected"] = counts["unified_rejected"]
            if not unified:
                return CorpusOutput(name=name, configs=configs, report=report, sources=sources)
            configs.append(_write_config(unified, out_path, name, "unified", unified_builder.info.features))
            schema = unified_builder.label_schema()
            instruct, notes = render_instruct(unified, schema, options, num_proc, desc=f"{name}_instruct")
            del unified, unified_builder  # rendering read (and so mapped into memory) their columns
            for split, note in notes.items():
                report[split].update(note)
            instruct_config = _write_config(instruct, out_path, name, "instruct", INSTRUCT_FEATURES)
            del instruct
            if instruct_config.splits:
                configs.append(instruct_config)
    return CorpusOutput(name=name, configs=configs, report=report, sources=sources, schema=schema)


def _write_config(dd: datasets.DatasetDict, out: Path, corpus: str, view: str, features) -> ConfigOutput:
    """Write the non-empty splits of a config (a split with no row, e.g. an instruct train split of
    negatives only, past the empty-row cap, cannot be loaded and is left out)."""
    config = ConfigOutput(name=f"{corpus}_{view}", corpus=corpus, view=view, features=features)
    for split in sorted(dd, key=_split_order):
        if len(dd[split]):
            config.splits[split] = write_split(dd[split], out, config.name, split)
    return config


def _split_order(split: str) -> tuple:
    order = {"train": 0, "validation": 1, "test": 2}
    return (order.get(split, 3), split)


def _build_job(args: tuple) -> CorpusOutput:
    return build_corpus(*args)


def _has_line_shards(name: str, corpus_dir: Path) -> bool:
    """Whether the builder of ``name`` cuts a file of ``corpus_dir`` into line shards (see
    ``ChinchillaBuilder.line_shards``)."""
    cls = get_builder(name)
    if not cls.one_record_per_line or cls.group_by:
        return False
    wanted = set(cls.corpus.expected_files())
    return any(
        f in wanted and os.path.getsize(os.path.join(d, f)) >= base.SHARD_MIN_BYTES for d, _, files in os.walk(corpus_dir) for f in files
    )


def build_collection(
    data_dir: Optional[str] = None,
    out: str = "chinchilla",
    corpora: Optional[list] = None,
    num_proc: int = 1,
    log: Callable[[str], None] = print,
    options: InstructOptions = InstructOptions(),
    near_duplicates: bool = False,
    drop_leaks: bool = False,
) -> dict:
    """Build every corpus found under ``data_dir`` (``data_dir/<corpus>/``) into ``out``.

    Returns the build report ``{corpus: {split: {...}}}``. Corpora whose folder is missing are
    skipped with one line naming the expected files; the others still build.
    """
    from .card import write_card  # the card needs every corpus's output
    from .dedup import apply_flags

    data_root = Path(data_dir) if data_dir else bundled_fixtures()
    names = corpora or list(builders())
    for name in names:
        get_builder(name)  # unknown names fail before any work
    out_path = Path(out).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.partial-", dir=out_path.parent))
    try:
        jobs, skipped = [], {}
        for name in names:
            reason = corpus_ready(name, data_root / name)
            if reason:
                log(f"skip {reason}")
                skipped[name] = reason
            else:
                jobs.append((name, str(data_root / name), str(tmp), 1, options))
        if not jobs:
            raise FileNotFoundError(f"no corpus found under {data_root}: nothing to build")
        # With num_proc > 1: a corpus with a large one-record-per-line file is built here, its line
        # shards in parallel (num_proc processes); the other corpora in parallel with each other.
        # Every job writes only its own config folders, so the output is that of num_proc=1.
        sharded = [job for job in jobs if num_proc > 1 and _has_line_shards(job[0], Path(job[1]))]
        pooled = [job for job in jobs if job not in sharded]
        results = []
        for name, corpus_dir, *_ in sharded:
            log(f"building {name} from {corpus_dir} ({num_proc} processes)")
            results.append(build_corpus(name, corpus_dir, str(tmp), num_proc, options))
        if num_proc > 1 and len(pooled) > 1:
            with multiprocessing.get_context("spawn").Pool(min(num_proc, len(pooled))) as pool:
                for result in pool.imap(_build_job, pooled):
                    log(f"built {result.name}")
                    results.append(result)
        else:
            for job in pooled:
                log(f"building {job[0]} from {job[1]}")
                results.append(_build_job(job))
        results.sort(key=lambda result: names.index(result.name))
        apply_flags(tmp, results, near=near_duplicates, drop_leaks=drop_leaks)
        for result in results:
            if not result.configs:
                rejected = [r for counts in result.report.values() for r in counts.get("rejected", [])]
                example = f", e.g. {rejected[0]['file']}:{rejected[0]['line']}: {rejected[0]['reason']}" if rejected else ""
                log(f"skip {result.name}: no valid record ({len(rejected)} rejected{example})")
        report = {r.name: r.report for r in results}
        results = [r for r in results if r.configs]
        if not results:
            raise FileNotFoundError(f"no valid record in any corpus under {data_root}: nothing to build")
        (tmp / REPORT_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
        mixtures = build_mixtures(tmp, results, seed=options.seed)
        mixture = [CorpusOutput(name=MIXTURE, configs=mixtures, report={}, sources={})] if mixtures else []
        write_card(tmp, results + mixture, skipped)
        _replace_dir(tmp, out_path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _replace_dir(new: Path, target: Path) -> None:
    """Move the finished build into place; the previous build is removed only after the swap."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- the mixture


def _hash_key(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8]


def parquet_batches(paths: Iterable, batch_size: int, columns: Optional[list] = None) -> Iterator[pa.RecordBatch]:
    """The record batches of Parquet files, in order, one file open at a time and decoded on the
    calling thread. A reader keeps what it has read until it is closed, and the buffers of the
    decoding threads stay with the allocator: either way the memory of reading a split grew with
    its size (docs/performance.md, "Memory, Parquet readers")."""
    for path in paths:
        with pq.ParquetFile(path) as parquet:
            yield from parquet.iter_batches(batch_size=batch_size, columns=columns, use_threads=False)


def capped_rows(paths: list, key: str, seed: int, cap: int) -> np.ndarray:
    """Positions (ascending) of the ``cap`` rows of a split whose ``key`` column hashes smallest
    (ties: the earlier row), read from its Parquet files one key column batch at a time; memory
    stays at ``cap`` entries whatever the size of the split."""
    counter = itertools.count()

    def keyed():
        for batch in parquet_batches(paths, ROW_GROUP_ROWS, columns=[key]):
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
    batch_size = ROW_GROUP_ROWS
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
            for batch in parquet_batches(part.paths, batch_size):
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
                    from datasets.table import table_cast

                    table = table_cast(table, schema)
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
        writer = ParquetSplitWriter(out, config, split, features)
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
    from datasets.arrow_writer import get_arrow_writer_batch_size_from_features

    chunk = get_arrow_writer_batch_size_from_features(features) or datasets.config.DEFAULT_MAX_BATCH_SIZE
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table, max_chunksize=chunk)
    return pa.ipc.open_stream(sink.getvalue()).read_all().nbytes


def build_mixtures(out: Path, results: list, seed: int = 42, caps: Optional[dict] = None) -> list:
    """``all_unified`` and ``all_instruct``: every corpus's rows per split, each corpus capped
    (rows of the records with the smallest id hashes), concatenated and shuffled with ``seed``.
    Read from the corpora's Parquet files, batch by batch (see :func:`write_shuffled`)."""
    caps = DEFAULT_MIXTURE_CAPS if caps is None else caps
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
            for split in sorted(parts, key=_split_order):
                if sum(part.size for part in parts[split]):
                    config.splits[split] = write_shuffled(parts[split], seed, features, out, config.name, split, scratch)
            if config.splits:
                mixtures.append(config)
    return mixtures


# ---------------------------------------------------------------- reading a built folder


def config_files(out: str) -> dict:
    """``{config: {split: [Path, ...]}}`` as listed in a built folder's card: each split's Parquet
    files in row order."""
    from huggingface_hub import DatasetCard

    root = Path(out)
    card = DatasetCard.load(root / "README.md")
    return {c["config_name"]: {f["split"]: [root / p for p in split_paths(f)] for f in c["data_files"]} for c in card.data["configs"]}


def iter_split(out: str, config: str, split: str, batch_size: int = 1000):
    """Rows (dicts) of one config split of a built folder, read batch by batch from its Parquet files."""
    import pyarrow.parquet as pq

    files = config_files(out)
    if config not in files:
        raise KeyError(f"config {config!r} is not in {out}; built: {', '.join(sorted(files))}")
    if split not in files[config]:
        raise KeyError(f"split {split!r} is not in {config}; has: {', '.join(files[config])}")
    for batch in parquet_batches(files[config][split], batch_size):
        yield from batch.to_pylist()
