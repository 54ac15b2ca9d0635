"""Ranking NER suspects: out-of-fold CRF marginals, confident learning (cleanlab) and the
corpus's own consistency, combined into one score per suspected span.

Candidates come from two places: where the out-of-fold prediction (posterior decoding of the
averaged marginals) disagrees with the labels — a predicted span the labels lack (``missing``),
a labelled span the model rejects (``spurious``), the same span with other edges (``boundary``)
or another type (``type``) — and from the model-free checks (``consistency.ner_checks``).

Every candidate, whatever found it, is then scored the same way, as a logistic combination of:
- the model's odds of the suggestion against the label over the span's characters (the product
  of the token marginals of each labelling: ``log P(suggested) - log P(given)``);
- agreement: the share of the bagged K-fold repeats whose Viterbi path is the suggestion;
- confident learning: whether cleanlab's ``find_label_issues`` (per-class thresholds on the
  out-of-fold token probabilities) flags a token of the span;
- consistency: how the same string is labelled elsewhere in the corpus (as this type or another,
  labelled or not), as a log ratio of counts.
Natural disagreement (ambiguous nominal mentions, a type annotators themselves split on) gives
moderate odds and mixed evidence; a deleted, shifted or retyped entity gives confident odds and
consistent evidence: the combination ranks the latter first. ``WEIGHTS`` were fitted by
``benchmarks/qc_eval.py`` on corpora with injected errors (docs/qc.md).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .consistency import SurfaceIndex, ner_checks, suspect
from .crf import CrossValidation
from .features import OUTSIDE, spans_from_tags

EPS = 1e-4
# A logistic model of "this candidate is an annotation error", fitted (scikit-learn logistic
# regression, no intercept: ``python3 scripts/qc_eval.py --fit``) on the 34k candidates of 20,000
# real MSRA sentences with 5% of them corrupted, checked on other slices of the corpus
# (docs/qc.md), then rounded. Per kind, the log-odds before evidence: natural corpora hold many
# ambiguous missing and spurious mentions and many nested boundary disagreements, so those kinds
# need stronger evidence than a type.
PRIORS = {"missing": -1.87, "spurious": -4.9, "boundary": -6.15, "type": -1.77}
# What weighs most: how little the model believes the label over the span (label_confidence, the
# self-confidence of confident learning), an edge off by exactly one character (the commonest
# slip), how the corpus labels the string elsewhere, and a model disagreeing in many places of one
# sentence (crowded: the sentence is hard, not mislabelled in one place). Given those, cleanlab's
# flag and the repeats' agreement add next to nothing (weights near 0); they stay in the evidence.
WEIGHTS = {"model_odds": 0.1, "agreement": -0.16, "cleanlab": -0.15, "consistency": 0.8, "off_by_one": 4.03, "crowded": -1.0, "label_confidence": -5.91, "suggestion_confidence": 1.15}
MODEL_CLIP = 12.0
CONSISTENCY_CLIP = 4.0


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def cleanlab_issue_tokens(tags: list, cv: CrossValidation) -> list:
    """Per sentence, a boolean array of the tokens cleanlab's confident learning flags (computed
    over the flattened tokens of the corpus: per-class thresholds need every class at once)."""
    from cleanlab.filter import find_label_issues

    index = {label: j for j, label in enumerate(cv.labels)}
    lengths = [len(t) for t in tags]
    flat_labels = np.fromiter((index[t] for seq in tags for t in seq), dtype=np.int64, count=sum(lengths))
    flags = np.zeros(len(flat_labels), dtype=bool)
    if len(flat_labels) and len(set(flat_labels.tolist())) > 1:
        probs = np.concatenate([m for m in cv.marginals if len(m)]).astype(np.float64)
        probs = np.clip(probs, 1e-6, None)
        probs /= probs.sum(axis=1, keepdims=True)
        present = np.unique(flat_labels)
        if len(present) == len(cv.labels):
            flags = find_label_issues(flat_labels, probs, filter_by="prune_by_noise_rate", n_jobs=1)
        else:  # cleanlab needs every class among the given labels: restrict to those present
            remap = {int(c): j for j, c in enumerate(present)}
            sub = probs[:, present]
            sub /= sub.sum(axis=1, keepdims=True)
            flags = find_label_issues(np.array([remap[int(c)] for c in flat_labels]), sub, filter_by="prune_by_noise_rate", n_jobs=1)
    return np.split(np.asarray(flags, dtype=bool), np.cumsum(lengths)[:-1]) if lengths else []


def _region_tags(tags: list, given: Optional[tuple], suggested: Optional[tuple]) -> tuple:
    """``(start, end, new tags over [start, end))``: the characters whose tag changes when span
    ``given`` is replaced by ``suggested`` (a following ``I-`` becomes ``B-`` when a suggestion now
    ends where that span goes on)."""
    spans = [s for s in (given, suggested) if s]
    start, end = min(s[0] for s in spans), max(s[1] for s in spans)
    if end < len(tags) and tags[end].startswith("I-") and suggested is not None and suggested[1] == end:
        end += 1
    new = list(tags[start:end])
    if given is not None:
        for k in range(given[0], given[1]):
            new[k - start] = OUTSIDE
    if suggested is not None:
        for k in range(suggested[0], suggested[1]):
            new[k - start] = ("B-" if k == suggested[0] else "I-") + suggested[2]
    if suggested is not None and suggested[1] < end and new[suggested[1] - start].startswith("I-"):
        new[suggested[1] - start] = "B-" + new[suggested[1] - start][2:]
    return start, end, new


def score_candidate(kind: str, given: Optional[tuple], suggested: Optional[tuple], text: str, tags: list, marginals: np.ndarray, paths: np.ndarray, label_index: dict, issues: np.ndarray, index: SurfaceIndex) -> dict:
    """The evidence for replacing span ``given`` (or nothing) by ``suggested`` (or nothing)."""
    start, end, new = _region_tags(tags, given, suggested)
    new_ids = np.array([label_index.get(t, -1) for t in new])
    old_ids = np.array([label_index.get(t, -1) for t in tags[start:end]])
    rows = np.arange(start, end)
    p_new = np.where(new_ids >= 0, marginals[rows, np.maximum(new_ids, 0)], 0.0)
    p_old = np.where(old_ids >= 0, marginals[rows, np.maximum(old_ids, 0)], 0.0)
    odds = float(np.log(np.maximum(p_new, EPS)).sum() - np.log(np.maximum(p_old, EPS)).sum())
    odds = max(-MODEL_CLIP, min(MODEL_CLIP, odds))
    label_confidence = float(p_old.min()) if len(p_old) else 1.0
    suggestion_confidence = float(p_new.min()) if len(p_new) else 1.0
    agreement = float((paths[:, start:end] == new_ids).all(axis=1).mean()) if len(paths) else 0.0
    flagged = bool(issues[start:end].any()) if len(issues) else False
    evidence = _consistency(kind, given, suggested, text, index)
    one_edge = kind == "boundary" and given and suggested and (given[0] == suggested[0]) + (given[1] == suggested[1]) == 1 and abs(given[0] - suggested[0]) + abs(given[1] - suggested[1]) == 1
    return {"model_odds": round(odds, 3), "agreement": round(agreement, 3), "cleanlab": flagged, "consistency": round(evidence, 3), "off_by_one": bool(one_edge),
            "label_confidence": round(label_confidence, 4), "suggestion_confidence": round(suggestion_confidence, 4)}


def combine(kind: str, features: dict) -> float:
    """The score of a candidate from its evidence (``WEIGHTS``, ``PRIORS``): a logistic function."""
    z = PRIORS[kind]
    for name, weight in WEIGHTS.items():
        value = features[name]
        if name == "agreement":
            value = 2 * value - 1
        z += weight * float(value)
    return _sigmoid(z)


def _consistency(kind: str, given: Optional[tuple], suggested: Optional[tuple], text: str, index: SurfaceIndex) -> float:
    """Log ratio of how the corpus labels these strings elsewhere: > 0 supports the suggestion."""
    def ratio(a: float, b: float) -> float:
        return max(-CONSISTENCY_CLIP, min(CONSISTENCY_CLIP, math.log((a + 0.5) / (b + 0.5))))

    if kind == "missing":
        surface = text[suggested[0] : suggested[1]]
        if surface not in index.types:
            return 0.0
        return ratio(index.labelled(surface), max(0, index.unlabelled[surface] - 1))
    if kind == "spurious":
        surface = text[given[0] : given[1]]
        return ratio(index.unlabelled[surface], max(0, index.labelled(surface) - 1))
    if kind == "type":
        surface = text[given[0] : given[1]]
        return ratio(index.type_count(surface, suggested[2]), max(0, index.type_count(surface, given[2]) - 1))
    given_surface, new_surface = text[given[0] : given[1]], text[suggested[0] : suggested[1]]
    return ratio(index.labelled(new_surface), max(0, index.labelled(given_surface) - 1))


SOFT_MASS = 0.3  # entity probability of a character, above which it may belong to an unlabelled mention


def soft_spans(marginals: np.ndarray, labels: list, mass: float = SOFT_MASS) -> list:
    """``[(start, end, type)]`` of the runs of characters the model gives at least ``mass`` of
    entity probability, cut where a ``B-`` outweighs the ``I-`` of the same run, typed by the most
    probable type over the run: the mentions the model half-believes in, which the decoded
    prediction (one tag per character) drops when the probability is split between types."""
    if not len(marginals):
        return []
    types = sorted({label[2:] for label in labels if label != OUTSIDE})
    begin = np.array([labels.index("B-" + t) if "B-" + t in labels else -1 for t in types])
    inside = np.array([labels.index("I-" + t) if "I-" + t in labels else -1 for t in types])
    per_type = np.zeros((len(marginals), len(types)), dtype=np.float64)
    b_mass = np.zeros(len(marginals))
    for k in range(len(types)):
        if begin[k] >= 0:
            per_type[:, k] += marginals[:, begin[k]]
            b_mass += marginals[:, begin[k]]
        if inside[k] >= 0:
            per_type[:, k] += marginals[:, inside[k]]
    entity = per_type.sum(axis=1)
    spans, start = [], None
    for i in range(len(marginals) + 1):
        opens = i < len(marginals) and entity[i] >= mass
        if start is not None and (not opens or b_mass[i] > entity[i] - b_mass[i]):
            spans.append((start, i, types[int(per_type[start:i].sum(axis=0).argmax())]))
            start = None
        if opens and start is None:
            start = i
    return spans


def model_candidates(tags: list, predicted: list, entities: list, marginals: np.ndarray, labels: list) -> list:
    """``(kind, given span, suggested span)`` where the prediction and the labels disagree, and the
    slips annotators make most, whatever the decoded prediction says: every labelled span shifted
    by one character at either edge, and retyped to its most probable other type (the scoring
    decides whether the model supports them)."""
    gold = spans_from_tags(tags)
    known = {(e.get("start"), e.get("end")) for e in entities}
    types = sorted({label[2:] for label in labels if label != OUTSIDE})
    begin = {t: labels.index("B-" + t) for t in types if "B-" + t in labels}
    out = []
    for g in gold:
        if g not in predicted:
            overlapping = [p for p in predicted if p[0] < g[1] and g[0] < p[1]]
            same_edges = [p for p in overlapping if p[:2] == g[:2]]
            if same_edges:
                out.append(("type", g, same_edges[0]))
            elif overlapping:
                best = max(overlapping, key=lambda p: (min(p[1], g[1]) - max(p[0], g[0]), -p[0]))
                out.append(("boundary", g, best))
            else:
                out.append(("spurious", g, None))
        others = [o for o in gold if o != g]
        for start, end in ((g[0] - 1, g[1]), (g[0] + 1, g[1]), (g[0], g[1] - 1), (g[0], g[1] + 1)):
            if 0 <= start < end <= len(tags) and all(end <= o[0] or o[1] <= start for o in others):
                out.append(("boundary", g, (start, end, g[2])))
        alternatives = [t for t in types if t != g[2] and t in begin]
        if alternatives and len(marginals):
            best_type = max(alternatives, key=lambda t: (marginals[g[0], begin[t]], t))
            out.append(("type", g, (g[0], g[1], best_type)))
    for p in predicted + soft_spans(marginals, labels):
        if not any(g[0] < p[1] and p[0] < g[1] for g in gold) and p[:2] not in known:
            out.append(("missing", None, p))
    return list(dict.fromkeys(out))


def rank_ner(ids: list, texts: list, entities: list, tags: list, cv: CrossValidation, index: SurfaceIndex) -> list:
    """Every NER suspect of a corpus, scored, one per (row, region), best first."""
    issues = cleanlab_issue_tokens(tags, cv)
    label_index = {label: j for j, label in enumerate(cv.labels)}
    consistency = {}
    for s in ner_checks(list(zip(ids, texts, entities)), index):
        consistency.setdefault(s["id"], []).append(s)
    rows = []
    for i, row_id in enumerate(ids):
        m = cv.marginals[i]
        predicted = spans_from_tags([cv.labels[j] for j in m.argmax(axis=1)]) if len(m) else []
        checks = {}
        for kind, given, suggested in model_candidates(tags[i], predicted, entities[i], m, cv.labels):
            checks[(kind, given, suggested)] = "model"
        gold = spans_from_tags(tags[i])
        for s in consistency.get(row_id, []):
            given = None if s["kind"] == "missing" else (s["start"], s["end"], s["type"])
            sug = s["suggestion"]
            suggested = (sug["start"], sug["end"], sug["type"]) if sug and sug["end"] > sug["start"] else None
            if given is not None and given not in gold:
                continue  # an untagged (nested) entity: the model never saw it
            key = ("spurious" if suggested is None else s["kind"], given, suggested)
            checks[key] = "model+" + s["check"] if key in checks else s["check"]
        row = []
        for (kind, given, suggested), check in checks.items():
            features = score_candidate(kind, given, suggested, texts[i], tags[i], m, cv.paths[i], label_index, issues[i], index)
            span = given or suggested
            suggestion = None if suggested is None else {"start": suggested[0], "end": suggested[1], "type": suggested[2], "text": texts[i][suggested[0] : suggested[1]]}
            row.append(suspect(row_id, kind, span[0], span[1], given[2] if given else None, 0.0, suggestion, check, text=texts[i][span[0] : span[1]], **features))
        rows.append(row)
    # Disagreements in many places of one sentence are the sentence's difficulty, not one slip.
    out = []
    for row in rows:
        confident = sum(1 for s in row if s["model_odds"] > 0)
        for s in row:
            s["crowded"] = round(math.log1p(confident - (s["model_odds"] > 0)), 3)
            s["score"] = round(combine(s["kind"], s), 4)
        row.sort(key=lambda s: -s["score"])
        kept: list = []
        for s in row:  # one suspect per region: the best-scored explanation of it
            low, high = s["start"], s["end"]
            if s["suggestion"]:
                low, high = min(low, s["suggestion"]["start"]), max(high, s["suggestion"]["end"])
            if all(high <= k[0] or k[1] <= low for k in kept):
                kept.append((low, high))
                out.append(s)
    return out
