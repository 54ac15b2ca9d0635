"""Building the collection: every corpus, three views, into one multi-config dataset folder.

OUT gets one folder per config holding the Parquet files of each split (``parquet_io``), the mixture
configs (``mixtures``), a ``README.md`` whose YAML lists every config with its data files and
``dataset_info`` (``card``; the layout ``push_to_hub`` writes, so stock ``load_dataset`` reads it),
and ``build_report.json``. The near-duplicate and leak flags (``dedup``) and the card are computed
from the plain ``outputs`` this loop hands them; neither imports this module.

OUT is written to a sibling temporary folder and moved into place only when complete; which
folders may be OUT, the marker and manifest, and the swap are ``outdir``'s.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import tempfile
import threading
import uuid
from importlib import resources
from pathlib import Path
from typing import Callable, Optional

import datasets
import pyarrow as pa

from . import base, outdir
from .archives import DEFAULT_MAX_ARCHIVE_BYTES, is_archive
from .card import write_card
from .corpus import name_matches
from .datasets_adapter import in_memory_dataset
from .dedup import apply_flags
from .instruct import TRAIN_SPLIT, InstructOptions, InstructRenderer, table_stats
from .mixtures import MIXTURE, build_mixtures
from .outputs import PROBLEMS, REPORT_FILE, ConfigOutput, CorpusFailure, CorpusOutput, split_order
from .parquet_io import arrow_batches, sha256_file, sha256_files, write_split
from .registry import builders, get_builder
from .schema import INSTRUCT_FEATURES, TASK_COLUMN
from .sources import SourceError

RENDER_BATCH = 2_000  # unified records per Dataset.map call of the instruct view
RENDER_CHUNK_ROWS = 50_000  # unified records held in memory at a time while rendering (a multiple of RENDER_BATCH)


def bundled_fixtures() -> Path:
    """The small fixture corpora shipped with the package (the default input of ``chinchilla build``)."""
    return Path(str(resources.files("chinchilla_datasets") / "fixtures"))


def corpus_ready(name: str, corpus_dir: Path) -> Optional[str]:
    """None when ``corpus_dir`` holds at least one split file of ``name``, else the one-line reason."""
    corpus = get_builder(name).corpus
    if not corpus_dir.is_dir():
        return f"{name}: folder {corpus_dir} not found; expected " + ", ".join(corpus.expected_files())
    split_names = [n for names in corpus.files.values() for n in names]
    for path in relative_files(corpus_dir):
        folders = path.split("/")[:-1]  # (a name may be a folder's: CASIE's annotation/)
        if is_archive(path) or any(name_matches(name, path) or name in folders for name in split_names):
            return None
    return corpus.missing_message(str(corpus_dir))


def relative_files(folder: Path) -> set:
    """The files under ``folder`` as ``/``-separated paths relative to it (what ``Corpus.files``
    names and patterns are matched against)."""
    return {
        os.path.relpath(os.path.join(dirpath, f), folder).replace(os.sep, "/")
        for dirpath, _, files in os.walk(folder)
        for f in files
    }


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
            part = in_memory_dataset(chunk, fingerprint=f"{name}-in").with_format("arrow")
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


def build_corpus(
    name: str, corpus_dir: str, out: str, num_proc: int = 1, options: InstructOptions = InstructOptions(), max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
) -> CorpusOutput:
    """Build the three views of one corpus into ``out``; each view's Parquet files are final."""
    cls = get_builder(name)
    out_path = Path(out)
    configs = []
    with tempfile.TemporaryDirectory(prefix=f"chinchilla-{name}-") as cache:
        # A private cache: a reused cache would skip generation and the report would be empty.
        def prepared(view: str):
            builder = cls(config_name=f"{name}_{view}", data_dir=corpus_dir, cache_dir=cache)
            builder.max_archive_bytes = max_archive_bytes
            builder.download_and_prepare(download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD, num_proc=num_proc if num_proc > 1 else None)
            # A split whose every record was rejected has no data: it is left out (and reported).
            splits = [s for s, info in builder.info.splits.items() if info.num_examples > 0]
            return builder, datasets.DatasetDict({s: builder.as_dataset(split=s) for s in splits})

        raw_builder, raw = prepared("raw")
        report = {split: dict(counts) for split, counts in raw_builder.report.items()}
        sources = {os.path.basename(p): sha256_file(p) for p in raw_builder.source_files.values()}
        for pattern, paths in raw_builder.document_files.items():
            sources[f"{pattern} ({len(paths)} files)"] = sha256_files(paths)
        archive_notes = list(raw_builder.archive_notes)
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
                if counts.get("unified_left_out"):
                    report[split]["unified_left_out"] = counts["unified_left_out"]
            if not unified:
                return CorpusOutput(name=name, configs=configs, report=report, sources=sources, notes=archive_notes)
            configs.append(_write_config(unified, out_path, name, "unified", unified_builder.info.features))
            schema = unified_builder.label_schema()
            if cls.instruct_excluded_flags:
                unified, left_out = without_flagged(unified, cls.instruct_excluded_flags)
                for split, counts in left_out.items():
                    report[split]["instruct_left_out"] = counts
            # The corpus's language picks the templates (English corpora: English), unless the options fix one.
            corpus_options = options.in_language(cls.corpus.language)
            instruct, notes = render_instruct(unified, schema, corpus_options, num_proc, desc=f"{name}_instruct")
            del unified, unified_builder  # rendering read (and so mapped into memory) their columns
            for split, note in notes.items():
                report[split].update(note)
            instruct_config = _write_config(instruct, out_path, name, "instruct", INSTRUCT_FEATURES)
            del instruct
            if instruct_config.splits:
                configs.append(instruct_config)
    return CorpusOutput(name=name, configs=configs, report=report, sources=sources, schema=schema, notes=archive_notes)


def without_flagged(unified: datasets.DatasetDict, flags: frozenset) -> tuple:
    """The unified splits without the records carrying any of ``flags``, and per split the count
    left out for each flag (the instruct view of translations leaves out ``projection_failed``)."""
    kept, left_out = {}, {}
    for split, ds in unified.items():
        counts = dict.fromkeys(sorted(flags), 0)
        for row_flags in ds.data.column("flags").to_pylist():
            for flag in flags.intersection(row_flags):
                counts[flag] += 1
        if any(counts.values()):  # flattened: the instruct renderer reads the rows from plain cache files
            ds = ds.filter(lambda row_flags: not flags.intersection(row_flags), input_columns="flags").flatten_indices()
        kept[split] = ds
        left_out[split] = counts
    return datasets.DatasetDict(kept), left_out


def _write_config(dd: datasets.DatasetDict, out: Path, corpus: str, view: str, features) -> ConfigOutput:
    """Write the non-empty splits of a config (a split with no row, e.g. an instruct train split of
    negatives only, past the empty-row cap, cannot be loaded and is left out)."""
    config = ConfigOutput(name=f"{corpus}_{view}", corpus=corpus, view=view, features=features)
    for split in sorted(dd, key=split_order):
        if len(dd[split]):
            config.splits[split] = write_split(dd[split], out, config.name, split)
    return config


def _build_job(args: tuple):
    """``build_corpus(*args)``, or a :class:`CorpusFailure` when a source cannot be read (caught here,
    in the worker: an exception sent back from a pool loses its cause)."""
    try:
        return build_corpus(*args)
    except Exception as err:
        found = source_error(err)
        if found is None:
            raise
        return CorpusFailure(args[0], str(found))


def source_error(err: BaseException) -> Optional[SourceError]:
    """The :class:`SourceError` behind ``err`` (``datasets`` wraps errors of generation), or None."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, SourceError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _has_line_shards(name: str, corpus_dir: Path) -> bool:
    """Whether the builder of ``name`` cuts a file of ``corpus_dir`` into line shards (see
    ``ChinchillaBuilder.line_shards``)."""
    cls = get_builder(name)
    if not cls.one_record_per_line or cls.group_by:
        return False
    wanted = set(cls.corpus.expected_files())
    return any(
        f in wanted and os.path.isfile(os.path.join(d, f)) and os.path.getsize(os.path.join(d, f)) >= base.SHARD_MIN_BYTES
        for d, _, files in os.walk(corpus_dir)
        for f in files
    )


def _spawn_pool(processes: int):
    """A spawn pool whose workers ignore SIGINT: Ctrl-C reaches every process of the terminal's
    group, and each worker would print a traceback; the main process stops them instead (the
    pool's exit terminates them). The disposition is inherited by the spawned interpreters."""
    if threading.current_thread() is not threading.main_thread():
        return multiprocessing.get_context("spawn").Pool(processes)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return multiprocessing.get_context("spawn").Pool(processes)
    finally:
        signal.signal(signal.SIGINT, previous)


def build_collection(
    data_dir: Optional[str] = None,
    out: str = "chinchilla",
    corpora: Optional[list] = None,
    num_proc: int = 1,
    log: Callable[[str], None] = print,
    options: InstructOptions = InstructOptions(),
    near_duplicates: bool = False,
    drop_leaks: bool = False,
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES,
    qc=None,
    drop_suspects: bool = False,
    qc_num_proc: Optional[int] = None,
) -> dict:
    """Build every corpus found under ``data_dir`` (``data_dir/<corpus>/``) into ``out``.

    Returns the build report ``{corpus: {split: {...}}}`` (and ``PROBLEMS``, see ``outputs``).
    Corpora whose folder is missing are skipped with one line naming the expected files; a corpus
    whose source cannot be read (a corrupt archive, an unreadable file) fails with one line; the
    others still build. With ``qc`` (a ``qc.QCOptions``) every corpus is quality-controlled after
    the duplicate flags (``qc.apply_qc``; ``drop_suspects`` drops the rows it flags), its folds in
    ``qc_num_proc`` processes (default: ``num_proc``).
    """
    data_root = Path(data_dir) if data_dir else bundled_fixtures()
    names = corpora or list(builders())
    for name in names:
        get_builder(name)  # unknown names fail before any work
    out_path = outdir.claim_out(out, data_root, log)  # refuses a folder the build did not write
    with outdir.staging(out_path) as tmp:
        jobs, skipped = [], {}
        for name in names:
            reason = corpus_ready(name, data_root / name)
            if reason:
                log(f"skip {reason}")
                skipped[name] = reason
            else:
                present = relative_files(data_root / name)
                note = get_builder(name).corpus.absent_splits_note(present)
                if note and not any(is_archive(f) for f in present):
                    log(note)  # (an archive may hold the split: the builder looks inside)
                jobs.append((name, str(data_root / name), str(tmp), 1, options, max_archive_bytes))
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
            results.append(_build_job((name, corpus_dir, str(tmp), num_proc, options, max_archive_bytes)))
        if num_proc > 1 and len(pooled) > 1:
            with _spawn_pool(min(num_proc, len(pooled))) as pool:
                for result in pool.imap(_build_job, pooled):
                    if isinstance(result, CorpusOutput):
                        log(f"built {result.name}")
                    results.append(result)
        else:
            for job in pooled:
                log(f"building {job[0]} from {job[1]}")
                results.append(_build_job(job))
        results.sort(key=lambda result: names.index(result.name))
        problems = {r.name: {"failed": r.reason} for r in results if isinstance(r, CorpusFailure)}
        for failure in [r for r in results if isinstance(r, CorpusFailure)]:
            log(f"fail {failure.name}: {failure.reason}")
            skipped[failure.name] = f"{failure.name}: {failure.reason}"
        results = [r for r in results if isinstance(r, CorpusOutput)]
        for result in results:
            if result.notes:
                problems[result.name] = {"archive_members_skipped": result.notes}
                log(f"{result.name}: skipped {len(result.notes)} archive member(s): {result.notes[0]}")
        if not results:
            raise FileNotFoundError(f"no corpus under {data_root} could be read: nothing to build")
        apply_flags(tmp, results, near=near_duplicates, drop_leaks=drop_leaks)
        if qc is not None:
            from .qc import apply_qc, write_report

            write_report(tmp, apply_qc(tmp, results, qc, drop=drop_suspects, num_proc=qc_num_proc or num_proc, log=log))
        for result in results:
            if not result.configs:
                rejected = [r for counts in result.report.values() for r in counts.get("rejected", [])]
                example = f", e.g. {rejected[0]['file']}:{rejected[0]['line']}: {rejected[0]['reason']}" if rejected else ""
                log(f"skip {result.name}: no valid record ({len(rejected)} rejected{example})")
        report = {r.name: r.report for r in results}
        if problems:
            report[PROBLEMS] = problems
        results = [r for r in results if r.configs]
        if not results:
            raise FileNotFoundError(f"no valid record in any corpus under {data_root}: nothing to build")
        (tmp / REPORT_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
        mixtures = build_mixtures(tmp, results, seed=options.seed)
        mixture = [CorpusOutput(name=MIXTURE, configs=mixtures, report={}, sources={})] if mixtures else []
        write_card(tmp, results + mixture, skipped)
        outdir.write_manifest(tmp, outdir.file_corpora(results, mixtures))
        outdir.swap_into_place(tmp, out_path, data_root, log)
    return report

