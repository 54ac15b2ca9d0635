"""QC of one corpus's unified rows, the report ``OUT/qc_report.json``, and which rows are flagged.

``qc_corpus`` runs, for every labelled split of a corpus: for NER, the K-fold CRF over all the
corpus's labelled splits pooled (a fold's model learns from every split, so a 270-sentence dev
split is judged by a model trained on thousands) and the ranking of ``confident.rank_ner``; for
every task, the model-free checks of ``consistency``. The report of a split:

    {"suspects": [{"id", "kind", "start", "end", "type", "score", "suggestion", ...evidence}],
     "model": {"folds": [{"repeat", "fold", "precision", "recall", "f1", ...}], "mean_f1", ...},
     "seconds": ..., "flagged": rows flagged, "rows": rows}

Suspects are sorted by score, best first. A row is flagged ``qc_suspect`` when one of its suspects
scores at least the threshold (``DEFAULT_THRESHOLD``), and at most ``max_share`` of a split's rows
are flagged (the best-scored): the flag marks the rows worth a reviewer's time, a budget a
reviewer can actually read, not every disagreement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .consistency import SurfaceIndex, event_checks, relation_checks
from .crf import CRFOptions

QC_FLAG = "qc_suspect"
REPORT_FILE = "qc_report.json"
DEFAULT_THRESHOLD = 0.05
SUSPECT_KEYS = ("id", "kind", "start", "end", "type", "score", "suggestion")


@dataclass(frozen=True)
class QCOptions:
    crf: CRFOptions = field(default_factory=CRFOptions)
    threshold: float = DEFAULT_THRESHOLD
    max_share: float = 0.14  # of a split's rows flagged, at most
    auto_repeats: bool = True  # bag small corpora: more repeats where training is cheap


def repeats_for(sentences: int) -> int:
    """Bagging rounds that fit the time budget: three under 3,000 sentences, two under 8,000."""
    return 3 if sentences <= 3_000 else 2 if sentences <= 8_000 else 1


def qc_corpus(task: str, splits: dict, schema: Optional[dict] = None, options: QCOptions = QCOptions(), num_proc: int = 1, name: str = "", log: Callable = lambda _: None) -> dict:
    """``{split: report}`` for ``splits`` = ``{split: [unified row dicts]}`` (id, text and the task's column)."""
    started = time.perf_counter()
    order = [(split, row) for split, rows in splits.items() for row in rows]
    suspects: list = []
    model: dict = {}
    if task == "NER" and order:
        from .confident import rank_ner
        from .crf import cross_validate
        from .features import tag_entities

        ids = [row["id"] for _, row in order]
        texts = [row["text"] or "" for _, row in order]
        entities = [row["entities"] or [] for _, row in order]
        tags = [tag_entities(t, e)[0] for t, e in zip(texts, entities)]
        crf = options.crf
        if options.auto_repeats:
            crf = CRFOptions(**{**crf.__dict__, "repeats": repeats_for(len(order))})
        log(f"qc {name}: {len(order)} sentences, {crf.folds}-fold CRF x{crf.repeats}")
        cv = cross_validate(texts, tags, crf, num_proc=num_proc, progress=f"qc {name}")
        index = SurfaceIndex(list(zip(texts, entities)))
        suspects = rank_ner(ids, texts, entities, tags, cv, index)
        f1 = [f["f1"] for f in cv.folds]
        model = {"type": "character CRF (python-crfsuite)", "folds": cv.folds, "mean_f1": round(sum(f1) / len(f1), 4) if f1 else None,
                 "options": {k: v for k, v in crf.__dict__.items()}, "pooled_splits": list(splits)}
    elif task == "RE":
        suspects = relation_checks([(r["id"], r["text"], r["relations"] or []) for _, r in order], _relation_schema(schema))
    elif task == "EE":
        suspects = event_checks([(r["id"], r["text"], r["events"] or []) for _, r in order], _role_schema(schema))
    seconds = round(time.perf_counter() - started, 2)
    split_of = {row["id"]: split for split, row in order}
    report = {split: {"suspects": [], "model": model, "seconds": seconds, "rows": len(rows)} for split, rows in splits.items()}
    for s in suspects:
        report[split_of[s["id"]]]["suspects"].append(s)
    for split, entry in report.items():
        entry["suspects"].sort(key=lambda s: (-s["score"], s["id"], s["start"] if s["start"] is not None else -1, s["kind"]))
        entry["flagged"] = len(flagged_rows(entry, options.threshold, options.max_share))
        entry["threshold"] = options.threshold
    return report


def flagged_rows(entry: dict, threshold: float = DEFAULT_THRESHOLD, max_share: float = 1.0) -> list:
    """Ids of a split's rows to flag: a suspect scoring at least ``threshold``, best first, at most
    ``max_share`` of its rows."""
    limit = int(max_share * entry.get("rows", 0)) if max_share < 1.0 else None
    ids: dict = {}
    for s in entry["suspects"]:  # sorted by score
        if s["score"] < threshold or (limit is not None and len(ids) >= limit):
            break
        ids.setdefault(s["id"], None)
    return list(ids)


def keep_flagged(entry: dict, threshold: float = DEFAULT_THRESHOLD, max_share: float = 1.0) -> set:
    """Reduce a split's report to the suspects that flag their rows (``entry["candidates"]`` keeps
    how many were considered); return the ids of the rows flagged."""
    flagged = set(flagged_rows(entry, threshold, max_share))
    entry["candidates"] = len(entry["suspects"])
    entry["suspects"] = [s for s in entry["suspects"] if s["id"] in flagged and s["score"] >= threshold]
    return flagged


def _relation_schema(schema: Optional[dict]) -> Optional[dict]:
    """``{relation: {(head type, tail type)}}`` from a schema that gives them, else None (derived)."""
    pairs = (schema or {}).get("pairs")
    return {rel: {tuple(p) for p in ps} for rel, ps in pairs.items()} if pairs else None


def _role_schema(schema: Optional[dict]) -> Optional[dict]:
    roles = (schema or {}).get("roles")
    return {t: set(r) for t, r in roles.items()} if isinstance(roles, dict) and roles else None
