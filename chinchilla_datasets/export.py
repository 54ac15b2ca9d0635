"""Building the collection: every corpus, three views, into one multi-config dataset folder.

OUT gets one folder per config holding one Parquet file per split, a ``README.md`` whose YAML
lists every config with its data files and ``dataset_info`` (the layout ``push_to_hub`` writes,
so stock ``load_dataset`` reads it), and ``build_report.json``. File names carry a fingerprint
of their content: ``datasets`` keys its cache of a local folder on the card, so a rebuild with
new rows must change the card or users would be served the old rows from their cache.

OUT is written to a sibling temporary folder and moved into place only when complete.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Optional

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets.arrow_writer import ArrowWriter

from . import base
from .instruct import TRAIN_SPLIT, InstructOptions, InstructRenderer, table_stats
from .registry import builders, get_builder
from .schema import INSTRUCT_FEATURES, TASK_COLUMN, UNIFIED_FEATURES

REPORT_FILE = "build_report.json"
ROW_GROUP_ROWS = 10_000
RENDER_BATCH = 2_000  # unified records per Dataset.map call of the instruct view
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
    splits: dict = field(default_factory=dict)  # split -> {"path", "num_examples", "num_bytes"}


@dataclass
class CorpusOutput:
    name: str
    configs: list
    report: dict  # split -> counts and rejections
    sources: dict  # file name -> sha256
    schema: Optional[dict] = None


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_split(ds: datasets.Dataset, out: Path, config: str, split: str) -> dict:
    """Write one split as Parquet named by its content hash; return its card entry."""
    folder = out / config
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{split}.parquet.tmp"
    # Row groups of ROW_GROUP_ROWS: readers (the card's statistics, the mixtures, streaming, Spark)
    # hold one row group in memory at a time; datasets' default made them ~100k rows (hundreds of MB).
    ds.to_parquet(str(tmp), batch_size=ROW_GROUP_ROWS)
    fingerprint = sha256_file(str(tmp))[:16]
    final = folder / f"{split}-{fingerprint}.parquet"
    os.replace(tmp, final)
    # num_bytes: the uncompressed size of the Parquet data, fixed by the file's bytes (Arrow's nbytes
    # of the dataset varies with how its table happens to be chunked, e.g. by num_proc).
    num_bytes = sum(group.total_byte_size for group in _row_groups(final))
    return {"path": f"{config}/{final.name}", "num_examples": len(ds), "num_bytes": num_bytes}


def _row_groups(path: Path) -> list:
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    return [metadata.row_group(i) for i in range(metadata.num_row_groups)]


def corpus_ready(name: str, corpus_dir: Path) -> Optional[str]:
    """None when ``corpus_dir`` holds at least one split file of ``name``, else the one-line reason."""
    corpus = get_builder(name).corpus
    if not corpus_dir.is_dir():
        return f"{name}: folder {corpus_dir} not found; expected " + ", ".join(corpus.expected_files())
    split_names = {n for names in corpus.files.values() for n in names}
    for _, _, files in os.walk(corpus_dir):
        if split_names & set(files) or any(f.endswith((".zip", ".tar.gz", ".tgz", ".tar")) for f in files):
            return None
    return corpus.missing_message(str(corpus_dir))


def render_instruct(unified: datasets.DatasetDict, schema: dict, options: InstructOptions, num_proc: int = 1, desc: str = "") -> tuple:
    """The instruct view of a unified DatasetDict with ``Dataset.map``, and per-split notes for the report.

    ``map`` hands the renderer Arrow tables (``arrow`` format) of only the columns it reads and
    writes the Arrow tables it returns: no row is converted to a Python dict on either side."""
    out, notes = {}, {}
    for split, ds in unified.items():
        column = TASK_COLUMN.get(ds.data.column("task")[0].as_py()) if len(ds) else None
        stats = None
        if split == TRAIN_SPLIT:  # (no column: no row)
            tables = ds.select_columns(["id", "task", column]).with_format("arrow").iter(batch_size=10_000) if column else ()
            stats = table_stats(tables, schema, options)
        needed = ds.select_columns(["id", "corpus", "task", "text", column]) if column else ds
        out[split] = needed.with_format("arrow").map(
            InstructRenderer(split, schema, options, stats),
            batched=True,
            batch_size=RENDER_BATCH,
            remove_columns=needed.column_names,
            features=INSTRUCT_FEATURES,
            num_proc=num_proc if num_proc > 1 else None,
            load_from_cache_file=False,
            desc=f"{desc}/{split}",
        ).with_format(None)
        notes[split] = {"instruct": len(out[split])}
        if stats:
            notes[split].update(empty_records=stats["empty_records"], empty_records_kept=stats["empty_kept"])
    return datasets.DatasetDict(out), notes


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
            for split, note in notes.items():
                report[split].update(note)
            instruct_config = _write_config(instruct, out_path, name, "instruct", INSTRUCT_FEATURES)
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


def shuffled_concatenation(parts: list, seed: int, features, cache: str, name: str, batch_size: int = 10_000) -> datasets.Dataset:
    """``concatenate_datasets(parts).shuffle(seed=seed).flatten_indices()``, the same rows in the same
    order, gathered batch by batch with one Arrow ``take`` over the memory-mapped parts (a part's own
    selection, e.g. a cap, is composed with the permutation) instead of ``flatten_indices``, which
    casts a table of one slice per row for every batch. Memory stays at one batch."""
    tables, rows, offset = [], [], 0
    for part in parts:
        table = part.data.table
        selected = part._indices.column(0).to_numpy().astype(np.int64) if part._indices is not None else np.arange(table.num_rows, dtype=np.int64)
        tables.append(table)
        rows.append(selected + offset)
        offset += table.num_rows
    batches = [batch for table in tables for batch in table.to_batches()]
    starts = np.cumsum([0] + [len(batch) for batch in batches])
    rows = np.concatenate(rows) if rows else np.arange(0, dtype=np.int64)
    order = rows[np.random.default_rng(seed).permutation(len(rows))]  # the permutation shuffle draws
    path = os.path.join(cache, f"{name}.arrow")
    with ArrowWriter(features=features, path=path) as writer:
        for start in range(0, len(order), batch_size):
            writer.write_table(gather(batches, starts, order[start : start + batch_size]))
        writer.finalize()
    return datasets.Dataset.from_file(path)


def gather(batches: list, starts: np.ndarray, rows: np.ndarray) -> pa.Table:
    """Rows ``rows`` (global positions) of the record batches, in that order. Takes from each batch
    separately: ``Table.take`` on a many-chunk table first concatenates each whole column in memory."""
    which = np.searchsorted(starts, rows, side="right") - 1
    grouped = np.argsort(which, kind="stable")
    pieces = []
    for b in np.unique(which):
        local = rows[which == b] - starts[b]
        pieces.append(pa.Table.from_batches([batches[b].take(pa.array(local))]))
    table = pa.concat_tables(pieces).combine_chunks()
    return table.take(pa.array(np.argsort(grouped, kind="stable")))


def build_mixtures(out: Path, results: list, seed: int = 42, caps: Optional[dict] = None) -> list:
    """``all_unified`` and ``all_instruct``: every corpus's rows per split, each corpus capped
    (rows of the records with the smallest id hashes), concatenated and shuffled with ``seed``."""
    caps = DEFAULT_MIXTURE_CAPS if caps is None else caps
    mixtures = []
    with tempfile.TemporaryDirectory(prefix="chinchilla-mixture-") as cache:
        for view, features in (("unified", UNIFIED_FEATURES), ("instruct", INSTRUCT_FEATURES)):
            parts: dict = {}
            for result in results:
                for config in result.configs:
                    if config.view != view:
                        continue
                    for split, entry in config.splits.items():
                        ds = datasets.Dataset.from_parquet(str(out / entry["path"]), cache_dir=cache, features=features)
                        cap = caps.get(split)
                        if cap is not None and len(ds) > cap:
                            # One Arrow column to a list: indexing ds["id"] (a lazy Column) row by row
                            # re-selects the column from the table at every access.
                            keys = ds.data.column("record_id" if view == "instruct" else "id").to_pylist()
                            order = sorted(range(len(ds)), key=lambda i: (_hash_key(seed, keys[i]), i))
                            ds = ds.select(sorted(order[:cap]))
                        parts.setdefault(split, []).append(ds)
            if not parts:
                continue
            mixed = datasets.DatasetDict({split: shuffled_concatenation(dss, seed, features, cache, f"{view}-{split}") for split, dss in parts.items()})
            config = _write_config(mixed, out, MIXTURE, view, features)
            if config.splits:
                mixtures.append(config)
    return mixtures


# ---------------------------------------------------------------- reading a built folder


def config_files(out: str) -> dict:
    """``{config: {split: Path}}`` as listed in a built folder's card."""
    from huggingface_hub import DatasetCard

    root = Path(out)
    card = DatasetCard.load(root / "README.md")
    return {c["config_name"]: {f["split"]: root / f["path"] for f in c["data_files"]} for c in card.data["configs"]}


def iter_split(out: str, config: str, split: str, batch_size: int = 1000):
    """Rows (dicts) of one config split of a built folder, read batch by batch from its Parquet file."""
    import pyarrow.parquet as pq

    files = config_files(out)
    if config not in files:
        raise KeyError(f"config {config!r} is not in {out}; built: {', '.join(sorted(files))}")
    if split not in files[config]:
        raise KeyError(f"split {split!r} is not in {config}; has: {', '.join(files[config])}")
    for batch in pq.ParquetFile(files[config][split]).iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()
