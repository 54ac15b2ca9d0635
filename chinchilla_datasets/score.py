"""Scoring model answers against an instruct split: batches merged per record, micro P/R/F1.

Predictions are JSON Lines ``{"id": <instruct row id>, "output": <the model's answer>}``. The
answers of the batches of one record are parsed (tolerantly, see ``parse_output``), restricted
to the types that batch asked for, and merged into one prediction per record; records are keyed
by ``record_id``, so records with identical text stay separate. Scored tuples:
- NER: (type, mention); RE: (head, relation, tail) — qualifiers are not scored;
- EE trigger: (event type, trigger); EE argument: (event type, role, argument).
A missing or unparseable answer counts as an empty prediction, and is counted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable

from .instruct import parse_output

FAMILIES = {"NER": ("NER",), "RE": ("RE",), "EE": ("EE-trigger", "EE-argument")}


def tuples_of(structures: list, task: str) -> dict:
    """``{family: {(type, ...)}}`` for parsed structures of a ``task`` row."""
    out = {family: set() for family in FAMILIES[task]}
    for s in structures:
        if task == "NER":
            out["NER"].add((s["type"], s["text"]))
        elif task == "RE":
            out["RE"].add((s["type"], s["head"], s["tail"]))
        else:
            out["EE-trigger"].add((s["type"], s["trigger"]))
            for arg in s["arguments"]:
                out["EE-argument"].add((s["type"], arg["role"], arg["text"]))
    return out


def prf(tp: int, pred: int, gold: int) -> dict:
    precision = tp / pred if pred else (1.0 if not gold else 0.0)
    recall = tp / gold if gold else (1.0 if not pred else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6), "tp": tp, "pred": pred, "gold": gold}


def score_rows(rows: Iterable[dict], predictions: dict) -> dict:
    """Score ``predictions`` (``{row id: answer}``) against instruct ``rows`` (dicts)."""
    gold_by_record, pred_by_record, meta = {}, {}, {}
    counts = {"rows": 0, "missing": 0, "unparseable": 0}
    for row in rows:
        task = row["task"]
        if task not in FAMILIES:
            continue  # EET/EEA training sub-tasks are not evaluation rows
        counts["rows"] += 1
        asked = set(row["schema"])
        key = row["record_id"]
        meta[key] = (row["corpus"], task)
        gold = [s for s in parse_output(row["output"], task) or [] if s["type"] in asked]
        answer = predictions.get(row["id"])
        if answer is None:
            counts["missing"] += 1
            parsed = []
        else:
            parsed = parse_output(answer, task)
            if parsed is None:
                counts["unparseable"] += 1
                parsed = []
        predicted = [s for s in parsed if s["type"] in asked]
        for store, structures in ((gold_by_record, gold), (pred_by_record, predicted)):
            merged = store.setdefault(key, {f: set() for f in FAMILIES[task]})
            for family, tuples in tuples_of(structures, task).items():
                merged[family] |= tuples

    totals = defaultdict(lambda: [0, 0, 0])  # (scope...) -> tp, pred, gold
    for key, gold in gold_by_record.items():
        corpus, task = meta[key]
        pred = pred_by_record[key]
        for family in FAMILIES[task]:
            g, p = gold[family], pred[family]
            for scope in (("overall",), ("task", family), ("corpus", corpus, family)):
                totals[scope][0] += len(g & p)
                totals[scope][1] += len(p)
                totals[scope][2] += len(g)
            for t in {x[0] for x in g | p}:
                gt, pt = {x for x in g if x[0] == t}, {x for x in p if x[0] == t}
                scope = ("type", family, t)
                totals[scope][0] += len(gt & pt)
                totals[scope][1] += len(pt)
                totals[scope][2] += len(gt)
    result = {"overall": prf(*totals[("overall",)]), "by_task": {}, "by_corpus": {}, "by_type": {}, **counts, "records": len(gold_by_record)}
    for scope, values in sorted(totals.items()):
        if scope[0] == "task":
            result["by_task"][scope[1]] = prf(*values)
        elif scope[0] == "corpus":
            result["by_corpus"].setdefault(scope[1], {})[scope[2]] = prf(*values)
        elif scope[0] == "type":
            result["by_type"].setdefault(scope[1], {})[scope[2]] = prf(*values)
    return result


def read_predictions(path: str) -> dict:
    """``{row id: output}`` from a JSON Lines file; a line that is not a JSON object with ``id`` fails loudly."""
    predictions = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                predictions[str(item["id"])] = item.get("output")
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{line_no}: expected a JSON object with 'id' and 'output' ({err})") from None
    return predictions


def format_table(result: dict) -> str:
    lines = [f"{'scope':<40} {'P':>7} {'R':>7} {'F1':>7} {'gold':>6} {'pred':>6}"]

    def add(name, m):
        lines.append(f"{name:<40} {m['precision']:>7.4f} {m['recall']:>7.4f} {m['f1']:>7.4f} {m['gold']:>6} {m['pred']:>6}")

    add("overall", result["overall"])
    for family, m in result["by_task"].items():
        add(f"  {family}", m)
    for corpus, families in result["by_corpus"].items():
        for family, m in families.items():
            add(f"  {corpus} {family}", m)
    for family, types in result["by_type"].items():
        for type_, m in types.items():
            add(f"    {family} {type_}"[:40], m)
    lines.append(f"records {result['records']}, rows {result['rows']}, missing {result['missing']}, unparseable {result['unparseable']}")
    return "\n".join(lines)
