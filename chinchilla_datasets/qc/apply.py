"""QC over a built folder: read each corpus's unified rows, run ``report.qc_corpus``, write
``qc_report.json``, flag the suspect rows ``qc_suspect`` and, when asked, drop them.

Flags reach the Parquet files the way the duplicate flags do (``dedup.rewrite``: each unified
split streamed through a transform into new fingerprinted files); dropped rows leave the unified
split and, by ``record_id``, the instruct split, counted per split in ``build_report.json``
(``qc_suspects``, ``dropped_suspects``, ``instruct_after_drop``). ``qc_build`` runs QC on an existing
build: it works on a hard-linked copy of OUT in a sibling folder, rebuilds the mixtures and the
card with the build loop's own functions, and swaps the copy in only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable, Optional

import pyarrow as pa

from .report import QC_FLAG, REPORT_FILE, QCOptions, keep_flagged, qc_corpus

REQUIRED = (("pycrfsuite", "python-crfsuite"), ("sklearn", "scikit-learn"), ("cleanlab", "cleanlab"))


class QCUnavailable(ImportError):
    """The optional QC dependencies are missing."""


def qc_processes() -> int:
    """Processes for the folds when none is asked for: one per core this process may run on (the
    folds' results do not depend on it, and ``crf.cross_validate`` never starts more than folds)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def require_qc_dependencies() -> None:
    """Raise ``QCUnavailable`` naming the extra when a QC dependency is not installed."""
    import importlib.util

    missing = [package for module, package in REQUIRED if importlib.util.find_spec(module) is None]
    if missing:
        raise QCUnavailable(f"QC needs the 'qc' extra: pip install 'chinchilla-datasets[qc]' (missing: {', '.join(missing)})")


def _rows(out: Path, entry: dict, column: str) -> list:
    from ..outputs import split_paths
    from ..parquet_io import parquet_batches

    rows = []
    for batch in parquet_batches([out / p for p in split_paths(entry)], 4096, columns=["id", "text", column]):
        rows += batch.to_pylist()
    return rows


def _task(out: Path, result, unified) -> Optional[str]:
    from ..registry import builders

    cls = builders().get(result.name)
    if cls is not None:
        return cls.corpus.task
    from ..outputs import split_paths
    from ..parquet_io import parquet_batches

    for entry in unified.splits.values():
        for batch in parquet_batches([out / p for p in split_paths(entry)], 1, columns=["task"]):
            return batch.column(0)[0].as_py()
    return None


def apply_qc(out: Path, results: list, options: QCOptions = QCOptions(), drop: bool = False, num_proc: int = 1, log: Callable[[str], None] = print) -> dict:
    """QC every corpus of ``results`` (``CorpusOutput``s whose files are in ``out``), flagging and
    (with ``drop``) dropping suspect rows in place; return ``{corpus: {split: report}}`` holding the
    flagged suspects only (scores at least ``options.threshold``, within ``options.max_share``)."""
    from ..dedup import _set_split, rewrite
    from ..schema import TASK_COLUMN

    require_qc_dependencies()
    out = Path(out)
    qc_report = {}
    for result in results:
        unified = next((c for c in result.configs if c.view == "unified"), None)
        if unified is None or not unified.splits:
            continue
        task = _task(out, result, unified)
        if task not in TASK_COLUMN:
            continue
        splits = {split: _rows(out, entry, TASK_COLUMN[task]) for split, entry in unified.splits.items()}
        report = qc_corpus(task, splits, schema=result.schema, options=options, num_proc=num_proc, name=result.name, log=log)
        del splits
        dropped_ids: set = set()
        for split, entry in report.items():
            flagged = keep_flagged(entry, options.threshold, options.max_share)
            note = result.report.setdefault(split, {})
            note["qc_suspects"] = len(flagged)
            split_drop = flagged if drop else set()

            def transform(offset, batch, flagged=flagged, split_drop=split_drop):
                names = batch.schema.names
                ids = batch.column(names.index("id")).to_pylist()
                flag_col = [[f for f in fs if f != QC_FLAG] for fs in batch.column(names.index("flags")).to_pylist()]
                for j, row_id in enumerate(ids):
                    if row_id in flagged:
                        flag_col[j].append(QC_FLAG)
                columns = list(batch.columns)
                columns[names.index("flags")] = pa.array(flag_col, type=batch.schema.field("flags").type)
                keep = pa.array([row_id not in split_drop for row_id in ids])
                return pa.RecordBatch.from_arrays(columns, schema=batch.schema).filter(keep)

            _set_split(out, unified, split, rewrite(out, unified.splits[split], unified.name, split, transform))
            if drop:
                note["dropped_suspects"] = len(flagged)
                dropped_ids |= flagged
        instruct = next((c for c in result.configs if c.view == "instruct"), None)
        if dropped_ids and instruct is not None:
            for split in list(instruct.splits):

                def drop_rows(offset, batch):
                    record_ids = batch.column(batch.schema.names.index("record_id")).to_pylist()
                    return batch.filter(pa.array([rid not in dropped_ids for rid in record_ids]))

                entry = rewrite(out, instruct.splits[split], instruct.name, split, drop_rows)
                result.report.setdefault(split, {})["instruct_after_drop"] = entry["num_examples"]
                _set_split(out, instruct, split, entry)
        result.configs = [c for c in result.configs if c.splits]
        qc_report[result.name] = report
        log(f"qc {result.name}: " + ", ".join(f"{s} {e['flagged']}/{e['rows']} rows flagged" for s, e in report.items()))
    return qc_report


def write_report(out: Path, qc_report: dict, previous: Optional[dict] = None) -> None:
    merged = {**(previous or {}), **qc_report}
    (Path(out) / REPORT_FILE).write_text(json.dumps(merged, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")


def read_report(out: Path) -> dict:
    path = Path(out) / REPORT_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no QC report (run `chinchilla qc --data {out}` or build with --qc)")
    return json.loads(path.read_text(encoding="utf-8"))


def _link_copy(source: Path, target: Path) -> None:
    """Copy a built folder's files into ``target`` (a staging folder with its own marker), by hard
    links where possible: Parquet files are never modified in place (a rewrite writes new files
    and unlinks the old), so linking them costs no space; the card and reports are rewritten, so
    they are real copies."""
    from ..outdir import MARKER

    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir() or path.is_symlink() or rel.as_posix() == MARKER:
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            try:
                os.link(path, dest)
                continue
            except OSError:
                pass
        shutil.copy2(path, dest)


def qc_build(out: str, corpora: Optional[list] = None, options: QCOptions = QCOptions(), drop: bool = False, num_proc: int = 1, log: Callable[[str], None] = print) -> dict:
    """Run QC on an existing build, rewriting it atomically; return the QC report of the corpora run.

    The build is staged (``outdir.staging``: a locked sibling folder), QC'd there, its mixtures,
    card and manifest rewritten by the build's own functions, and swapped into place
    (``outdir.swap_into_place``), as ``chinchilla build`` does."""
    from .. import outdir
    from ..card import read_build, write_card
    from ..mixtures import MIXTURE, build_mixtures
    from ..outputs import REPORT_FILE as BUILD_REPORT, CorpusOutput
    from ..instruct import InstructOptions

    require_qc_dependencies()
    out_path = Path(out).resolve()
    if not (out_path / BUILD_REPORT).exists():
        raise FileNotFoundError(f"{out_path}: not a built folder (no {BUILD_REPORT})")
    outdir.check_out(out_path, None)
    build = read_build(out_path)
    results = [r for r in build.results if r.name != MIXTURE]
    names = [r.name for r in results]
    for name in corpora or []:
        if name not in names:
            raise KeyError(f"corpus {name!r} is not in {out}; built: {', '.join(names)}")
    selected = [r for r in results if not corpora or r.name in corpora]
    previous = json.loads((out_path / REPORT_FILE).read_text(encoding="utf-8")) if (out_path / REPORT_FILE).exists() else {}
    build_report = json.loads((out_path / BUILD_REPORT).read_text(encoding="utf-8"))
    with outdir.staging(out_path) as tmp:
        _link_copy(out_path, tmp)
        qc_report = apply_qc(tmp, selected, options, drop=drop, num_proc=num_proc, log=log)
        for result in build.results:
            if result.name == MIXTURE:
                for config in result.configs:
                    shutil.rmtree(tmp / config.name, ignore_errors=True)
        build_report.update({r.name: r.report for r in results})
        (tmp / BUILD_REPORT).write_text(json.dumps(build_report, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
        write_report(tmp, qc_report, previous)
        kept = [r for r in results if r.configs]
        mixtures = build_mixtures(tmp, kept, seed=InstructOptions().seed)
        mixture = [CorpusOutput(name=MIXTURE, configs=mixtures, report={}, sources={})] if mixtures else []
        write_card(tmp, kept + mixture, build.skipped)
        outdir.write_manifest(tmp, outdir.file_corpora(kept, mixtures))
        outdir.swap_into_place(tmp, out_path, None, log)
    return qc_report
