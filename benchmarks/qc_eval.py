"""Evaluate QC on NER corpora with known errors injected: recall, top-k precision, share flagged, seconds.

About ``--rate`` of the sentences that hold an entity get one error each, chosen with ``--seed``:
an entity deleted, one of its edges shifted by one character, or its type changed (a third each).

    # from raw files: inject into the corpus's files (character-per-line tags, MSRA's word/tag lines,
    # CLUENER's JSON Lines), `chinchilla build --qc`, read the report
    python3 scripts/qc_eval.py --raw RAW --corpus weibo_ner resume_ner --json
    # from a built folder: inject into its unified rows and run QC on them in memory (fast, for tuning)
    python3 scripts/qc_eval.py --unified OUT --corpus weibo_ner
    # from a character-per-line tagged file (a full corpus): 20,000 sentences, their report dumped
    python3 scripts/qc_eval.py --tagged msra_train.txt --offset 25000 --limit 20000 --seed 3 --dump fit.json
    # refit the ranking's weights (confident.WEIGHTS, PRIORS) on dumped reports
    python3 scripts/qc_eval.py --fit fit.json

An injected error counts as found when a reported suspect of its row overlaps the characters it
changed. Top-k precision: of the k best-scored suspects (k = errors injected), the share that
find an injected error. Flagged: rows carrying ``qc_suspect`` over all rows.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def inject(rows: list, rate: float, seed: int, types: list) -> dict:
    """Corrupt about ``rate`` of ``rows`` (unified dicts, changed in place); ``{row id: (low, high, kind)}``."""
    rng = random.Random(seed)
    candidates = [r for r in rows if any(e.get("start") is not None for e in r["entities"])]
    chosen = rng.sample(candidates, min(len(candidates), max(1, round(rate * len(rows)))))
    injected = {}
    for row in sorted(chosen, key=lambda r: r["id"]):
        entities = [e for e in row["entities"] if e.get("start") is not None]
        entity = rng.choice(entities)
        kinds = ["delete", "shift"] + (["retype"] if len(types) > 1 else [])
        kind = rng.choice(kinds)
        start, end = entity["start"], entity["end"]
        if kind == "shift":
            others = [(e["start"], e["end"]) for e in entities if e is not entity]
            moves = [(start + a, end + b) for a, b in ((-1, 0), (1, 0), (0, -1), (0, 1))]
            moves = [(s, e) for s, e in moves if 0 <= s < e <= len(row["text"]) and all(e <= o[0] or o[1] <= s for o in others)]
            if not moves:
                kind = "delete"
            else:
                new_start, new_end = rng.choice(moves)
                entity.update(start=new_start, end=new_end, text=row["text"][new_start:new_end])
                injected[row["id"]] = (min(start, new_start), max(end, new_end), kind)
                continue
        if kind == "retype":
            entity["type"] = rng.choice([t for t in types if t != entity["type"]])
        else:
            row["entities"] = [e for e in row["entities"] if e is not entity]
        injected[row["id"]] = (start, end, kind)
    return injected


def _hits(s: dict, injected: dict) -> bool:
    """Whether suspect ``s`` (its span, or its suggestion's) overlaps the error injected in its row."""
    where = injected.get(s["id"])
    if where is None:
        return False
    low, high = s["start"], s["end"]
    if s.get("suggestion") and isinstance(s["suggestion"], dict) and "start" in s["suggestion"]:
        low, high = min(low, s["suggestion"]["start"]), max(high, s["suggestion"]["end"])
    return low is not None and low < where[1] and where[0] < high


def score(report: dict, injected: dict, total_rows: int, flagged_rows: int) -> dict:
    suspects = sorted((s for split in report.values() for s in split["suspects"]), key=lambda s: -s["score"])

    def hit(s):
        return _hits(s, injected)

    found = {s["id"] for s in suspects if hit(s)}
    k = len(injected)
    by_kind = {}
    for row_id, (_, _, kind) in injected.items():
        n, f = by_kind.get(kind, (0, 0))
        by_kind[kind] = (n + 1, f + (row_id in found))
    return {
        "injected": k,
        "recall": round(len(found) / k, 3) if k else None,
        "row_recall": round(len(set(injected) & {s["id"] for s in suspects}) / k, 3) if k else None,
        "top_k_precision": round(sum(map(hit, suspects[:k])) / k, 3) if k else None,
        "flagged_share": round(flagged_rows / total_rows, 3),
        "suspects": len(suspects),
        "recall_by_kind": {kind: round(f / n, 3) for kind, (n, f) in sorted(by_kind.items())},
    }


def cached_cross_validation(folder: str, key: str):
    """Patch ``crf.cross_validate`` to keep its result in ``folder``: re-ranking without retraining."""
    import pickle

    from chinchilla_datasets.qc import crf

    original = getattr(crf.cross_validate, "uncached", crf.cross_validate)

    def cached(*args, **kwargs):
        path = Path(folder) / f"{key}.pkl"
        if path.exists():
            return pickle.loads(path.read_bytes())
        result = original(*args, **kwargs)
        path.write_bytes(pickle.dumps(result))
        return result

    cached.uncached = original
    crf.cross_validate = cached
    return original


def eval_unified(out: str, corpus: str, rate: float, seed: int, num_proc: int, dump: str = None, cache: str = None) -> dict:
    from chinchilla_datasets.parquet_io import config_files, iter_split

    splits = {split: list(iter_split(out, f"{corpus}_unified", split)) for split in config_files(out)[f"{corpus}_unified"]}
    return eval_rows(corpus, splits, rate, seed, num_proc, dump, cache)


def read_tagged(path: str, limit: int = None, offset: int = 0) -> list:
    """Unified-like rows of a character-per-line tagged file (``char<space or tab>tag``, BIO, BMES
    or BIOES, a blank line after each sentence): sentences ``offset`` to ``offset + limit``."""
    rows, chars, tags = [], [], []
    with open(path, encoding="utf-8") as lines:
        for line in itertools.chain(lines, [""]):  # the blank line closes a last sentence
            parts = line.split()
            if len(parts) >= 2:
                chars.append(parts[0][0])
                tags.append(parts[-1])
                continue
            if chars:
                if len(rows) >= offset:
                    text = "".join(chars)
                    entities = [{"start": a, "end": b, "type": k, "text": text[a:b]} for a, b, k in _decode(tags)]
                    rows.append({"id": f"s{len(rows)}", "text": text, "entities": entities})
                else:
                    rows.append(None)
                chars, tags = [], []
                if limit and len(rows) >= offset + limit:
                    break
    return rows[offset:]


def eval_tagged(path: str, limit: int, offset: int, rate: float, seed: int, num_proc: int, dump: str = None, cache: str = None) -> dict:
    """Inject into sentences of a tagged file (a full real corpus, say) and QC them in memory."""
    rows = read_tagged(path, limit, offset)
    return {"file": Path(path).name, "offset": offset, **eval_rows(Path(path).stem, {"train": rows}, rate, seed, num_proc, dump, cache)}


def eval_rows(name: str, splits: dict, rate: float, seed: int, num_proc: int, dump: str = None, cache: str = None) -> dict:
    """Inject into ``splits`` = ``{split: [unified rows]}``, run QC on them in memory, score it."""
    from chinchilla_datasets.qc.report import QCOptions, keep_flagged, qc_corpus

    rows = [r for rs in splits.values() for r in rs]
    types = sorted({e["type"] for r in rows for e in r["entities"]})
    injected = inject(rows, rate, seed, types)
    if cache:
        cached_cross_validation(cache, f"{name}-{len(rows)}-{seed}-{rate}")
    started = time.perf_counter()
    options = QCOptions()
    report = qc_corpus("NER", splits, options=options, num_proc=num_proc, name=name)
    seconds = time.perf_counter() - started
    if dump:  # every candidate, for fitting the weights (--fit)
        Path(dump).write_text(json.dumps({"report": report, "injected": injected, "rows": len(rows)}, ensure_ascii=False))
    f1 = next(iter(report.values()))["model"].get("mean_f1")
    flagged = sum(len(keep_flagged(e, options.threshold, options.max_share)) for e in report.values())
    return {"corpus": name, "rows": len(rows), "seconds": round(seconds, 1), "mean_f1": f1, **score(report, injected, len(rows), flagged)}


def fit_weights(dumps: list) -> dict:
    """Refit ``confident.WEIGHTS`` and ``PRIORS`` (a logistic regression without intercept, one
    prior per kind) on the candidates of ``--dump`` files: a candidate is positive when it overlaps
    an injected error."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from chinchilla_datasets.qc.confident import PRIORS, WEIGHTS

    names, kinds = list(WEIGHTS), list(PRIORS)
    features, positive = [], []
    for path in dumps:
        data = json.loads(Path(path).read_text())
        injected = {k: tuple(v) for k, v in data["injected"].items()}
        for split in data["report"].values():
            for s in split["suspects"]:
                if s["kind"] in kinds:
                    features.append([2 * s[n] - 1 if n == "agreement" else float(s[n]) for n in names] + [float(s["kind"] == k) for k in kinds])
                    positive.append(_hits(s, injected))
    model = LogisticRegression(fit_intercept=False, max_iter=2000).fit(np.array(features), np.array(positive))
    coef = model.coef_[0]
    return {"candidates": len(positive), "positive": int(sum(positive)),
            "WEIGHTS": {n: round(float(c), 2) for n, c in zip(names, coef)}, "PRIORS": {k: round(float(c), 2) for k, c in zip(kinds, coef[len(names):])}}


# ---------------------------------------------------------------- raw files


def _decode(tags: list) -> list:
    """Spans ``[start, end, type]`` of BIO / BMES / BIOES tags."""
    spans, current = [], None
    for i, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        if prefix in ("B", "S") or (prefix in ("I", "M", "E") and (current is None or current[2] != kind)):
            current = [i, i + 1, kind]
            spans.append(current)
        elif prefix in ("I", "M", "E"):
            current[1] = i + 1
        else:
            current = None
        if prefix in ("S", "E"):
            current = None
    return spans


def _encode(length: int, spans: list, scheme: str) -> list:
    tags = ["O"] * length
    for start, end, kind in spans:
        for k in range(start, end):
            if scheme == "BIO":
                tags[k] = ("B-" if k == start else "I-") + kind
            elif end - start == 1:
                tags[k] = "S-" + kind
            else:
                tags[k] = ("B-" if k == start else "E-" if k == end - 1 else scheme[1] + "-") + kind
    return tags


def _inject_rows(records: list, rate: float, rng: random.Random, types: list) -> dict:
    """Inject into ``records`` = [{"text", "entities"}] (unified-like, changed in place)."""
    rows = [{"id": str(i), "text": r["text"], "entities": r["entities"]} for i, r in enumerate(records)]
    injected = inject(rows, rate, rng.randrange(1 << 30), types)
    for r, row in zip(records, rows):
        r["entities"] = row["entities"]
    return {int(k): v for k, v in injected.items()}


def inject_file(source: Path, target: Path, rate: float, rng: random.Random) -> dict:
    """Inject errors into one raw file (character-per-line tags, MSRA's ``word/tag`` lines, or CLUENER
    JSON Lines):
    ``{sentence index: (low, high, kind)}``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    if source.suffix == ".json":
        records = []
        for line in lines:
            data = json.loads(line)
            entities = [{"start": s, "end": e + 1, "type": t, "text": data["text"][s : e + 1]} for t, mentions in (data.get("label") or {}).items() for spans in mentions.values() for s, e in spans]
            records.append({"text": data["text"], "entities": entities, "data": data})
        injected = _inject_rows(records, rate, rng, sorted({e["type"] for r in records for e in r["entities"]}))
        out = []
        for r in records:
            label = {}
            for e in r["entities"]:
                label.setdefault(e["type"], {}).setdefault(r["text"][e["start"] : e["end"]], []).append([e["start"], e["end"] - 1])
            out.append(json.dumps({**r["data"], "label": label}, ensure_ascii=False))
        target.write_text("\n".join(out) + "\n", encoding="utf-8")
        return injected
    if source.name in SIGHAN_WORD_FILES:
        return _inject_word_file(lines, target, rate, rng)
    sentences, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line)
        elif current:
            sentences.append(current)
            current = []
    all_tags = [line.split()[-1] for s in sentences for line in s]
    scheme = "BMES" if any(t.startswith("M-") for t in all_tags) else "BIES" if any(t[:2] in ("E-", "S-") for t in all_tags) else "BIO"
    records = []
    for s in sentences:
        tokens = [line.rsplit(None, 1)[0] for line in s]
        spans = _decode([line.split()[-1] for line in s])
        records.append({"text": "".join(t[0] for t in tokens), "tokens": tokens, "entities": [{"start": a, "end": b, "type": k, "text": ""} for a, b, k in spans]})
    injected = _inject_rows(records, rate, rng, sorted({e["type"] for r in records for e in r["entities"]}))
    sep = "\t" if "\t" in lines[0] else " "
    out = []
    for r in records:
        tags = _encode(len(r["tokens"]), [(e["start"], e["end"], e["type"]) for e in r["entities"]], scheme)
        out += [f"{tok}{sep}{tag}" for tok, tag in zip(r["tokens"], tags)] + [""]
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return injected


# MSRA's SIGHAN form: one sentence per line of ``word/tag`` tokens (builders/msra_ner.py).
SIGHAN_WORD_FILES = ("train1.txt", "testright1.txt")


def _inject_word_file(lines: list, target: Path, rate: float, rng: random.Random) -> dict:
    """``inject_file`` for the SIGHAN form: sentence index = index among the non-blank lines (the
    builder's rows); written back with each entity one word and the text between them one ``/o`` word."""
    from builders.msra_ner import WORD_TAGS, parse_word_line

    word_tag = {kind: tag for tag, kind in WORD_TAGS.items() if kind}  # (the builder's table, inverted)
    records = []
    for line in lines:
        if line.strip():
            chars, tags = parse_word_line(line)
            text = "".join(chars)
            records.append({"text": text, "entities": [{"start": a, "end": b, "type": k, "text": text[a:b]} for a, b, k in _decode(tags)]})
    injected = _inject_rows(records, rate, rng, sorted({e["type"] for r in records for e in r["entities"]}))
    out = []
    for r in records:
        words, at = [], 0
        for e in sorted(r["entities"], key=lambda e: e["start"]):
            if at < e["start"]:
                words.append(r["text"][at : e["start"]] + "/o")
            words.append(r["text"][e["start"] : e["end"]] + "/" + word_tag[e["type"]])
            at = e["end"]
        if at < len(r["text"]):
            words.append(r["text"][at:] + "/o")
        out.append(" ".join(words) + " ")
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return injected


def eval_raw(raw: str, corpus: str, rate: float, seed: int, num_proc: int) -> dict:
    """Inject into ``raw/<corpus>``'s files, ``chinchilla build --qc`` them, score the report."""
    import pyarrow.parquet as pq

    from chinchilla_datasets import cli
    from chinchilla_datasets.parquet_io import config_files
    from chinchilla_datasets.registry import get_builder

    files = get_builder(corpus).corpus.files
    work = Path(tempfile.mkdtemp(prefix="qc-eval-"))
    try:
        rng = random.Random(seed)
        injected_by_split = {}
        shutil.copytree(Path(raw) / corpus, work / "raw" / corpus)
        for split, names in files.items():
            for name in names:
                path = work / "raw" / corpus / name
                if path.exists() and (name.endswith(".json") or not name.endswith(".txt") or "bio" in name
                                      or name in SIGHAN_WORD_FILES):
                    injected_by_split[split] = inject_file(Path(raw) / corpus / name, path, rate, rng)
                    break
        out = work / "chinchilla"
        started = time.perf_counter()
        code = cli.main(["build", "--data-dir", str(work / "raw"), "--out", str(out), "--corpus", corpus, "--qc", "--num-proc", str(num_proc)])
        seconds = time.perf_counter() - started
        if code:
            raise SystemExit(f"build failed for {corpus}")
        report = json.loads((out / "qc_report.json").read_text())[corpus]
        injected, total, flagged, read = {}, 0, 0, 0
        for split, paths in config_files(str(out))[f"{corpus}_unified"].items():
            rows = [r for p in paths for r in pq.read_table(p, columns=["id", "flags"]).to_pylist()]
            total += len(rows)
            flagged += sum("qc_suspect" in r["flags"] for r in rows)
            for index, where in injected_by_split.get(split, {}).items():
                injected[rows[index]["id"]] = tuple(where)
        build_report = json.loads((out / "build_report.json").read_text())[corpus]
        read = sum(c.get("unified", 0) for c in build_report.values())
        result = {"corpus": corpus, "rows": total, "rows_lost": read - total, "build_qc_seconds": round(seconds, 1),
                  "qc_seconds": sum(e["seconds"] for e in report.values()) / max(1, len(report)),
                  **score(report, injected, total, flagged)}
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def eval_synthetic(scale: float, corpus: str, num_proc: int) -> dict:
    """Speed only: ``chinchilla build --qc`` of a synthetic corpus (``benchmarks.synthetic``) at
    ``scale`` times its official size; the text is random, so recall means nothing here."""
    import os

    from benchmarks.synthetic import generate_corpus
    from chinchilla_datasets import cli
    from chinchilla_datasets.registry import get_builder

    work = Path(tempfile.mkdtemp(prefix="qc-speed-"))
    try:
        generate_corpus(corpus, get_builder(corpus), work / "raw" / corpus, scale)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        if cli.main(["build", "--data-dir", str(work / "raw"), "--out", str(work / "chinchilla"), "--corpus", corpus, "--qc", "--num-proc", str(num_proc)]):
            raise SystemExit(f"build failed for {corpus}")
        seconds = time.perf_counter() - started
        report = json.loads((work / "chinchilla" / "qc_report.json").read_text())[corpus]
        first = next(iter(report.values()))
        return {"corpus": corpus, "scale": scale, "sentences": sum(e["rows"] for e in report.values()), "qc_seconds": first["seconds"],
                "build_with_qc_seconds": round(seconds, 1), "num_proc": num_proc, "cpus": os.cpu_count(),
                "load_average_before": round(load, 2), "load_average_after": round(os.getloadavg()[0], 2),
                "flagged": sum(e["flagged"] for e in report.values())}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unified", help="a built folder: inject into its unified rows, QC in memory")
    parser.add_argument("--raw", help="a folder of raw corpora: inject into the files, build with --qc")
    parser.add_argument("--synthetic", type=float, metavar="SCALE", help="speed only: build --qc a synthetic corpus at SCALE x its official size")
    parser.add_argument("--tagged", help="a character-per-line tagged file (BIO/BMES/BIOES): inject into --limit sentences from --offset, QC in memory")
    parser.add_argument("--limit", type=int, default=5000, help="with --tagged: sentences read")
    parser.add_argument("--offset", type=int, default=0, help="with --tagged: sentences skipped first")
    parser.add_argument("--fit", nargs="+", metavar="DUMP", help="refit the ranking's weights on --dump files and print them")
    parser.add_argument("--corpus", nargs="+", default=[])
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cache", help="with --unified or --tagged: keep the cross-validation results in this folder")
    parser.add_argument("--dump", help="with --unified: write the report and the injected errors to DUMP-<corpus>.json; with --tagged: to DUMP")
    args = parser.parse_args()
    if args.fit:
        print(json.dumps(fit_weights(args.fit)))
        return 0
    if args.tagged:
        print(json.dumps(eval_tagged(args.tagged, args.limit, args.offset, args.rate, args.seed, args.num_proc, args.dump, args.cache), ensure_ascii=False))
        return 0
    if not args.corpus:
        parser.error("--corpus is needed with --unified, --raw or --synthetic")
    results = []
    for corpus in args.corpus:
        if args.synthetic:
            result = eval_synthetic(args.synthetic, corpus, args.num_proc)
        elif args.unified:
            result = eval_unified(args.unified, corpus, args.rate, args.seed, args.num_proc, f"{args.dump}-{corpus}.json" if args.dump else None, args.cache)
        else:
            result = eval_raw(args.raw, corpus, args.rate, args.seed, args.num_proc)
        results.append(result)
        print(json.dumps(result, ensure_ascii=False) if args.json else result, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
