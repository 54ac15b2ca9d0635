"""``chinchilla audit OUT``: what a built folder contains and what was lost, checked from its files.

- Accounting, per corpus and split (from ``build_report.json``): read = raw rows + rejected, and
  unified records = raw rows − conversion rejects (or the number of grouped sentences).
- Spans, per unified config: spans with offsets (split into mentions occurring once in the text
  and mentions occurring several times), null (ungrounded) spans, records flagged
  ``ambiguous_span`` (several occurrences, no source offset: the first is used) /
  ``offset_corrected`` / ``ungrounded_span``, overlapping or nested entity pairs, and duplicate
  annotations within a record.
- Exact duplicate texts within a split, shared between a corpus's train and its evaluation
  splits (leakage), and shared between corpora.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

from .outputs import PROBLEMS, REPORT_FILE
from .parquet_io import config_files, iter_split
from .schema import spans_of


def accounting(report: dict) -> list:
    """Rows ``(corpus, split, counts, ok)``; ``ok`` is False where the equations do not hold."""
    rows = []
    for corpus, splits in sorted(report.items()):
        if corpus == PROBLEMS:  # corpora that failed or lost archive members: not split counts
            continue
        for split, c in splits.items():
            ok = c["read"] == c["written"] + len(c["rejected"])
            if "unified" in c and "unified_rejected" in c:
                ok = ok and c["unified"] + len(c["unified_rejected"]) <= c["written"]
            rows.append((corpus, split, c, ok))
    return rows


def span_audit(records) -> dict:
    counts = Counter()
    for record in records:
        text = record.get("text", "")
        for span in spans_of(record):
            counts["spans"] += 1
            if span["start"] is None:
                counts["null_spans"] += 1
                continue
            counts["spans_with_offsets"] += 1
            # A mention occurring once is grounded by a unique match; one occurring several times
            # was placed by the source's offset or, without one, at its first occurrence (flagged).
            occurrences = text.count(span["text"]) if span["text"] else 0
            counts["spans_unique_mention" if occurrences == 1 else "spans_repeated_mention"] += 1
        for flag in record["flags"]:
            counts[f"records_{flag}"] += 1
        ents = sorted((e["start"], e["end"], e["type"], e["text"]) for e in record["entities"] if e["start"] is not None)
        counts["duplicate_entities"] += len(record["entities"]) - len({json.dumps(e, sort_keys=True) for e in record["entities"]})
        for i, a in enumerate(ents):
            for b in ents[i + 1 :]:
                if b[0] >= a[1]:
                    break
                if (a[0], a[1]) != (b[0], b[1]):
                    counts["nested_entities" if b[1] <= a[1] else "overlapping_entities"] += 1
        rels = [json.dumps(r, sort_keys=True) for r in record["relations"]]
        counts["duplicate_relations"] += len(rels) - len(set(rels))
        evs = [json.dumps(e, sort_keys=True) for e in record["events"]]
        counts["duplicate_events"] += len(evs) - len(set(evs))
    return dict(counts)


def duplicate_audit(out: str, unified_configs: list) -> dict:
    """Exact duplicate texts: within a split, train vs evaluation splits (leaks), across corpora."""
    seen = defaultdict(set)  # text hash -> {(corpus, split)}
    within = Counter()
    for config in unified_configs:
        corpus = config[: -len("_unified")]
        for split in config_files(out)[config]:
            local = Counter()
            for record in iter_split(out, config, split):
                digest = hashlib.sha1(record["text"].encode()).digest()
                local[digest] += 1
                seen[digest].add((corpus, split))
            within[(corpus, split)] = sum(n - 1 for n in local.values() if n > 1)
    leaks, across = Counter(), Counter()
    for places in seen.values():
        corpora = {c for c, _ in places}
        for corpus in corpora:
            splits = {s for c, s in places if c == corpus}
            if "train" in splits and splits - {"train"}:
                leaks[corpus] += 1
        if len(corpora) > 1:
            across[",".join(sorted(corpora))] += 1
    return {
        "duplicates_within_split": {f"{c}/{s}": n for (c, s), n in sorted(within.items()) if n},
        "train_texts_in_eval_splits": dict(sorted(leaks.items())),
        "texts_shared_across_corpora": dict(sorted(across.items())),
    }


def audit(out: str) -> dict:
    report = json.loads((Path(out) / REPORT_FILE).read_text(encoding="utf-8"))
    unified = sorted(c for c in config_files(out) if c.endswith("_unified") and c[: -len("_unified")] in report)
    return {
        "accounting": [
            {"corpus": corpus, "split": split, "read": c["read"], "raw_rows": c["written"], "rejected": len(c["rejected"]),
             "unified": c.get("unified"), "unified_rejected": len(c.get("unified_rejected", [])), "instruct": c.get("instruct"), "balanced": ok}
            for corpus, split, c, ok in accounting(report)
        ],
        "spans": {config: span_audit(r for split in config_files(out)[config] for r in iter_split(out, config, split)) for config in unified},
        "duplicates": duplicate_audit(out, unified),
    }


def format_audit(result: dict) -> str:
    lines = [f"{'corpus':<18} {'split':<11} {'read':>7} {'raw':>7} {'rejected':>8} {'unified':>7} {'instruct':>8} balanced"]
    for a in result["accounting"]:
        lines.append(
            f"{a['corpus']:<18} {a['split']:<11} {a['read']:>7} {a['raw_rows']:>7} {a['rejected']:>8} "
            f"{str(a['unified'] if a['unified'] is not None else '-'):>7} {str(a['instruct'] if a['instruct'] is not None else '-'):>8} {'yes' if a['balanced'] else 'NO'}"
        )
    lines.append("")
    for config, counts in result["spans"].items():
        lines.append(f"{config}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    lines.append("")
    for key, values in result["duplicates"].items():
        lines.append(f"{key}: " + (", ".join(f"{k} {v}" for k, v in values.items()) or "none"))
    return "\n".join(lines)
