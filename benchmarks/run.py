"""Speed and scale benchmark: every corpus at its official size, from synthetic files in the real formats.

For each registered corpus that has a generator here, synthetic source files are written in the
format its ``SOURCE.md`` describes (file names taken from the builder's ``Corpus.files``), at the
official split sizes times ``--scale``. Then, each in a fresh cache:

- every view of every corpus is built by its builder (``download_and_prepare``), and the
  instruction view is also made as the collection makes it (``collection.render_instruct``: the
  training-split statistics, then ``Dataset.map``) over the unified rows (``instruct_map``);
- DuIE's raw build of ``duie_train.json`` alone is compared with ``load_dataset("json")`` on the
  same file (``raw_vs_json_loader``, a ratio of rows/s);
- ``build_collection`` builds everything (all views, mixtures, Parquet, card): ``collection_s``.

Results and what they mean: docs/performance.md.

Peak memory is the peak RSS of this process and of its children (``getrusage``), plus RSS,
``RssAnon`` and ``RssFile`` sampled from ``/proc/self/status`` per phase (``memory_by_phase``):
resident pages of memory-mapped Arrow files count in RSS (as ``RssFile``) for as long as the
mapping lives, so a step that reads a whole mapped file shows there.

    python3 scripts/bench.py --json                      # scale 1, every corpus
    python3 scripts/bench.py --scale 0.1 --corpus duie   # one corpus, a tenth of its size
    python3 scripts/bench.py --compare-scales 1,2 --json # each scale in its own process

``python3 -m benchmarks`` (from the repository root) is the same; ``scripts/bench.py`` is its entry point.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import datasets

from chinchilla_datasets.collection import build_collection, render_instruct
from chinchilla_datasets.instruct import InstructOptions
from chinchilla_datasets.registry import builders
from chinchilla_datasets.schema import VIEWS

from .synthetic import SIZES, generate_corpus

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- measuring


class MemorySampler(threading.Thread):
    """Samples this process's RSS from /proc/self/status every ``interval`` seconds: VmRSS (the total
    ``getrusage`` reports the peak of), RssAnon (allocations) and RssFile (resident pages of
    file-backed mappings, e.g. memory-mapped Arrow files). Per phase it keeps the peak of each and
    the split of the total at its peak (``at_peak``), so a phase's peak can be attributed."""

    FIELDS = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}

    def __init__(self, interval: float = 0.05):
        super().__init__(daemon=True)
        self.interval, self.peak_anon_kb, self.stop = interval, 0, threading.Event()
        self.phase, self.by_phase = "generate", {}
        self.lock = threading.Lock()
        self.current = self._empty()
        self.overall = self._empty()

    @staticmethod
    def _empty() -> dict:
        return {"rss": 0, "anon": 0, "file": 0, "at_peak": {"anon": 0, "file": 0}}

    def sample(self) -> None:
        values = {}
        with open("/proc/self/status") as f:
            for line in f:
                key = self.FIELDS.get(line.split(" ", 1)[0].split("\t", 1)[0])
                if key:
                    values[key] = int(line.split()[1])
        with self.lock:
            for peaks in (self.current, self.overall):
                if values.get("rss", 0) > peaks["rss"]:
                    peaks["at_peak"] = {"anon": values.get("anon", 0), "file": values.get("file", 0)}
                for key, kb in values.items():
                    peaks[key] = max(peaks[key], kb)
            self.peak_anon_kb = self.overall["anon"]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.sample()
            except OSError:
                return
            self.stop.wait(self.interval)

    @staticmethod
    def _mb(peaks: dict) -> dict:
        mb = lambda kb: round(kb / 1024, 1)  # noqa: E731
        return {"rss": mb(peaks["rss"]), "anon": mb(peaks["anon"]), "file": mb(peaks["file"]), "at_peak": {k: mb(v) for k, v in peaks["at_peak"].items()}}

    def enter(self, phase: str) -> None:
        """Start a named phase; the peaks (MB) of the one that ends are kept in ``by_phase``."""
        try:
            self.sample()  # the end of the phase that ends
        except OSError:
            pass
        with self.lock:
            self.by_phase[self.phase] = self._mb(self.current)
            self.phase, self.current = phase, self._empty()
        try:
            self.sample()
        except OSError:
            pass

    def summary(self) -> dict:
        return self._mb(self.overall)


def instrument_collection(sampler: MemorySampler) -> Callable[[], None]:
    """Name phases inside ``build_collection`` (each corpus's views written, its instruct rendering, the
    duplicate flags, the mixtures, the card) by wrapping the functions it calls; returns the undo."""
    from chinchilla_datasets import collection  # the loop's names: it imports card, dedup and mixtures by name

    originals = []

    def wrap(module, name: str, phase: Callable) -> None:
        original = getattr(module, name, None)
        if original is None:
            return

        def wrapper(*args, **kwargs):
            sampler.enter(phase(*args, **kwargs))
            return original(*args, **kwargs)

        originals.append((module, name, original))
        setattr(module, name, wrapper)

    wrap(collection, "build_corpus", lambda name, *a, **k: f"collection:{name}:build")
    wrap(collection, "_write_config", lambda dd, out, corpus, view, *a, **k: f"collection:{corpus}:write_{view}")
    wrap(collection, "render_instruct", lambda *a, desc="", **k: f"collection:{desc.rsplit('_instruct', 1)[0]}:render_instruct")
    wrap(collection, "apply_flags", lambda *a, **k: "collection:flags")
    wrap(collection, "build_mixtures", lambda *a, **k: "collection:mixtures")
    wrap(collection, "write_card", lambda *a, **k: "collection:card")

    def undo() -> None:
        for module, name, original in originals:
            setattr(module, name, original)

    return undo


def timed(fn: Callable) -> tuple:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def rate(rows: int, seconds: float) -> dict:
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1) if seconds > 0 else None}


def build_view(cls, view: str, data_dir: Path, cache: Path):
    """A prepared builder of one view in a fresh cache, and its wall time (None if the view has no split)."""
    builder = cls(config_name=f"{cls.corpus.name}_{view}", data_dir=str(data_dir), cache_dir=str(cache))
    try:
        _, seconds = timed(lambda: builder.download_and_prepare(download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD))
    except FileNotFoundError:
        return None, 0.0
    return builder, seconds


def bench_corpus(cls, data_dir: Path, work: Path) -> dict:
    """Rows/s of each view built by the builder, and of the instruction view made as the collection
    makes it (``collection.render_instruct``: the training-split statistics pass, then ``Dataset.map``)."""
    out: dict = {"views": {}, "rejected": {}}
    for view in VIEWS:
        cache = work / f"cache-{cls.corpus.name}-{view}"
        builder, seconds = build_view(cls, view, data_dir, cache)
        if builder is None:
            continue
        rows = sum(split.num_examples for split in builder.info.splits.values())
        out["views"][view] = rate(rows, seconds)
        if view == "raw":
            out["rejected"]["raw"] = sum(len(c["rejected"]) for c in builder.report.values())
        if view == "unified":
            out["rejected"]["unified"] = sum(len(c.get("unified_rejected", [])) for c in builder.report.values())
            unified, schema = builder.as_dataset(), builder.label_schema()
            (instruct, _), seconds = timed(lambda: render_instruct(unified, schema, InstructOptions()))
            out["views"]["instruct_map"] = rate(sum(len(ds) for ds in instruct.values()), seconds)
            del instruct
            del unified
        del builder
        shutil.rmtree(cache, ignore_errors=True)
    return out


def bench_json_loader(cls, train_file: Path, schema_file: Optional[Path], work: Path) -> dict:
    """DuIE raw build of ``duie_train.json`` alone vs ``load_dataset("json")`` on the same file."""
    only = work / "duie_train_only"
    only.mkdir(parents=True, exist_ok=True)
    for path in (train_file, schema_file):
        if path is not None and not (only / path.name).exists():
            os.symlink(path, only / path.name)
    builder, seconds = build_view(cls, "raw", only, work / "cache-duie-train-raw")
    raw = rate(builder.info.splits["train"].num_examples, seconds)
    ds, seconds = timed(
        lambda: datasets.load_dataset(
            "json",
            data_files=str(train_file),
            split="train",
            cache_dir=str(work / "cache-json"),
            download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD,
        )
    )
    loader = rate(len(ds), seconds)
    del ds, builder
    shutil.rmtree(work / "cache-json", ignore_errors=True)
    shutil.rmtree(work / "cache-duie-train-raw", ignore_errors=True)
    return {"duie_raw_train": raw, "json_loader": loader, "raw_vs_json_loader": round(raw["rows_per_s"] / loader["rows_per_s"], 3)}


def peak_rss_mb() -> dict:
    # ru_maxrss is in KiB on Linux.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(max(own, children), 1), "peak_rss_self_mb": round(own, 1), "peak_rss_children_mb": round(children, 1)}


TARGETS = {
    "raw_vs_json_loader": ("min", 0.5),
    "instruct_rows_per_s": ("min", 150_000),
    "collection_s": ("max", 90),
    "peak_rss_mb": ("max", 1536),
}


def tree_sha256(folder: Path) -> str:
    """sha256 over the relative paths and contents of every file under ``folder``, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def run(scale: float, names: Optional[list], num_proc: int, work: Path, log: Callable[[str], None]) -> dict:
    sampler = MemorySampler()
    sampler.start()
    registry = builders()
    names = names or list(registry)
    raw_root = work / "raw"
    result: dict = {"scale": scale, "num_proc": num_proc, "cpu_count": os.cpu_count(), "datasets": datasets.__version__, "corpora": {}, "skipped": {}}
    generated = []
    for name in names:
        cls = registry[name]
        if name not in SIZES:
            # IREE: no public copy, so neither its format nor its size is known.
            result["skipped"][name] = "no generator (format or official size unknown)"
            continue
        try:
            files, seconds = timed(lambda: generate_corpus(name, cls, raw_root / name, scale))
        except LookupError as err:
            result["skipped"][name] = str(err)
            continue
        log(f"generated {name}: {files} in {seconds:.1f}s")
        result["corpora"][name] = {"files": files, "generate_s": round(seconds, 2)}
        generated.append(name)
    if not generated:
        raise SystemExit("bench: no corpus to benchmark")

    instruct_rows, instruct_s = 0, 0.0
    for name in generated:
        sampler.enter(f"views:{name}")
        cls = registry[name]
        measured = bench_corpus(cls, raw_root / name, work)
        log(f"built {name}: {json.dumps(measured)}")
        result["corpora"][name].update(measured)
        views = measured["views"]
        if "instruct_map" in views:
            instruct_rows += views["instruct_map"]["rows"]
            instruct_s += views["instruct_map"]["seconds"]
    result["instruct_rows_per_s"] = round(instruct_rows / instruct_s, 1) if instruct_s else None

    if "duie" in generated:
        sampler.enter("json_loader")
        cls = registry["duie"]
        train = raw_root / "duie" / cls.corpus.files["train"][0]
        schema = raw_root / "duie" / cls.corpus.schema_file if cls.corpus.schema_file else None
        comparison = bench_json_loader(cls, train, schema, work)
        result.update(comparison)
        log(f"json loader: {json.dumps(comparison)}")

    sampler.enter("collection")
    out = work / "out" / "chinchilla"
    undo = instrument_collection(sampler)
    try:
        _, seconds = timed(lambda: build_collection(str(raw_root), str(out), corpora=generated, num_proc=num_proc, log=lambda _: None))
    finally:
        undo()
    sampler.enter("collection:end")
    result["collection_s"] = round(seconds, 2)
    result["collection_mb"] = round(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20, 1)
    # One digest of every file of the build: runs with different --num-proc must print the same.
    result["collection_sha256"] = tree_sha256(out)
    log(f"collection: {seconds:.1f}s")
    shutil.rmtree(out.parent, ignore_errors=True)

    sampler.stop.set()
    sampler.join()
    sampler.enter("end")
    result.update(peak_rss_mb())
    result["peak_rss_anon_mb"] = round(sampler.peak_anon_kb / 1024, 1)
    # Peaks of the sampled RSS (VmRSS), RssAnon and RssFile within each phase, in MB, and the split
    # of the total at its peak: where the getrusage peak comes from (RSS goes down as well as up).
    result["memory_by_phase"] = sampler.by_phase
    result["peak_rss_anon_mb_by_phase"] = {phase: peaks["anon"] for phase, peaks in sampler.by_phase.items()}
    result["peak_rss_sampled"] = sampler.summary()
    result["targets"] = {
        key: {"target": f"{'>=' if kind == 'min' else '<'} {limit}", "met": result.get(key) is not None and ((result[key] >= limit) if kind == "min" else (result[key] < limit))}
        for key, (kind, limit) in TARGETS.items()
        if key in result
    }
    return result


def compare_scales(scales: list, argv_rest: list) -> dict:
    """Run the benchmark once per scale, each in a fresh process, so peak RSS is per scale."""
    runs = {}
    for scale in scales:
        cmd = [sys.executable, "-m", "benchmarks", "--json", "--scale", str(scale), *argv_rest]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        runs[str(scale)] = json.loads(proc.stdout)
    first, last = runs[str(scales[0])], runs[str(scales[-1])]
    scale_growth = scales[-1] / scales[0]
    rss_growth = last["peak_rss_mb"] / first["peak_rss_mb"]
    return {
        "scales": runs,
        "peak_rss_mb": {s: r["peak_rss_mb"] for s, r in runs.items()},
        "peak_rss_anon_mb": {s: r["peak_rss_anon_mb"] for s, r in runs.items()},
        "collection_s": {s: r["collection_s"] for s, r in runs.items()},
        "scale_growth": scale_growth,
        "rss_growth": round(rss_growth, 3),
        "anon_rss_growth": round(last["peak_rss_anon_mb"] / first["peak_rss_anon_mb"], 3),
        # Flat: the peak grows by at most a quarter of the input's growth.
        "rss_flat": rss_growth - 1 <= 0.25 * (scale_growth - 1),
    }


def print_table(result: dict) -> None:
    print(f"scale {result['scale']}  num_proc {result['num_proc']}  datasets {result['datasets']}")
    print(f"{'corpus':<18} {'view':<13} {'rows':>9} {'seconds':>9} {'rows/s':>10}")
    for name, info in result["corpora"].items():
        for view, m in info.get("views", {}).items():
            print(f"{name:<18} {view:<13} {m['rows']:>9} {m['seconds']:>9.2f} {m['rows_per_s'] or 0:>10.0f}")
        if any(info.get("rejected", {}).values()):
            print(f"{name:<18} rejected {info['rejected']} (the synthetic files do not match the builder)")
    for key in ("raw_vs_json_loader", "instruct_rows_per_s", "collection_s", "peak_rss_mb", "peak_rss_anon_mb"):
        print(f"{key}: {result.get(key)}")
    for name, reason in result["skipped"].items():
        print(f"skipped {name}: {reason}")
    for key, t in result["targets"].items():
        print(f"target {key} {t['target']}: {'met' if t['met'] else 'NOT met'}")


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplier of the official sizes (default 1.0)")
    parser.add_argument("--corpus", nargs="+", help="corpora to benchmark (default: every registered one)")
    parser.add_argument("--num-proc", type=int, default=1, help="passed to build_collection")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--compare-scales", help="comma-separated scales, each run in its own process, e.g. 1,2")
    parser.add_argument("--workdir", help="keep generated files and caches here (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    if args.corpus:
        unknown = sorted(set(args.corpus) - set(builders()))
        if unknown:
            parser.error(f"unknown corpus {', '.join(unknown)}; known: {', '.join(builders())}")

    if args.compare_scales:
        rest = (["--corpus", *args.corpus] if args.corpus else []) + ["--num-proc", str(args.num_proc)]
        result = compare_scales([float(s) for s in args.compare_scales.split(",")], rest)
        print(json.dumps(result, indent=None if args.json else 2))
        return 0

    log = (lambda msg: print(msg, file=sys.stderr)) if not args.json else (lambda msg: None)
    if args.workdir:
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
        result = run(args.scale, args.corpus, args.num_proc, work, log)
    else:
        with tempfile.TemporaryDirectory(prefix="chinchilla-bench-") as tmp:
            result = run(args.scale, args.corpus, args.num_proc, Path(tmp), log)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0

