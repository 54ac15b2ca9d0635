"""Scoring model answers against an instruct split: batches merged per record, micro P/R/F1.

Predictions (``read_predictions``) are JSON Lines in one of two shapes:
- ``{"id": <instruct row id>, "output": <the model's answer>}`` (``chinchilla predict`` writes these);
- LLaMA-Factory's ``generated_predictions.jsonl``: ``{"prompt", "predict", "label"}`` per line, in
  the order of the exported eval file. Lines carry no id: line i is row i of the split (the export
  writes rows in split order), checked by finding the row's prompt (``prompt_of``) inside the line's
  ``prompt`` (the chat template applied: system prompt and role markers around it), both compared
  NFC-normalized and without whitespace, as a tokenizer's decode may change them. A count or
  prompt mismatch fails, naming the first bad line.

The answers of the batches of one record are parsed (tolerantly, see ``parse_output``; answers in
IEPile's key names are read too, see ``iepile.from_iepile_shapes``), restricted to the types that
batch asked for, and merged into one prediction per record; records are keyed by ``record_id``, so
records with identical text stay separate. Scored tuples:
- NER: (type, mention); RE: (head, relation, tail) — qualifiers are not scored;
- EE trigger: (event type, trigger); EE argument: (event type, role, argument).
Match modes, as in IEPile's evaluator: ``set`` (default) counts each distinct tuple of a record once;
``normal`` counts repeated tuples (a prediction listed twice is two predictions, matched against as
many gold copies). A missing or unparseable answer counts as an empty prediction, and is counted;
prediction ids that are not rows of the split fail (``UnknownIds``): a sign of the wrong config.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from typing import Iterable, Optional

from .exports import prompt_of
from .iepile import from_iepile_shapes
from .instruct import load_answer, parse_output

FAMILIES = {"NER": ("NER",), "RE": ("RE",), "EE": ("EE-trigger", "EE-argument")}
MATCH_MODES = ("set", "normal")


class UnknownIds(ValueError):
    """Prediction ids that are not rows of the scored split."""


def tuples_of(structures: list, task: str) -> dict:
    """``{family: Counter((type, ...))}`` for parsed structures of a ``task`` row (repeats counted)."""
    out = {family: Counter() for family in FAMILIES[task]}
    for s in structures:
        if task == "NER":
            out["NER"][(s["type"], s["text"])] += 1
        elif task == "RE":
            out["RE"][(s["type"], s["head"], s["tail"])] += 1
        else:
            out["EE-trigger"][(s["type"], s["trigger"])] += 1
            for arg in s["arguments"]:
                out["EE-argument"][(s["type"], arg["role"], arg["text"])] += 1
    return out


def parse_answer(answer: str, task: str) -> Optional[list]:
    """Structures in a model's answer, in our key names or IEPile's (None when nothing parses)."""
    value = load_answer(answer) if isinstance(answer, str) else None
    if not isinstance(value, dict):
        return None
    return parse_output(json.dumps(from_iepile_shapes(value, task), ensure_ascii=False), task)


def prf(tp: int, pred: int, gold: int) -> dict:
    precision = tp / pred if pred else (1.0 if not gold else 0.0)
    recall = tp / gold if gold else (1.0 if not pred else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6), "tp": tp, "pred": pred, "gold": gold}


def _matched(gold: Counter, pred: Counter, match_mode: str) -> tuple:
    """(tp, pred, gold) counts of one record's tuples under ``match_mode``."""
    if match_mode == "set":
        return len(gold.keys() & pred.keys()), len(pred), len(gold)
    return sum((gold & pred).values()), sum(pred.values()), sum(gold.values())


def score_rows(rows: Iterable[dict], predictions: dict, match_mode: str = "set") -> dict:
    """Score ``predictions`` (``{row id: answer}``) against instruct ``rows`` (dicts). Prediction ids
    that are no row of ``rows`` raise ``UnknownIds``."""
    if match_mode not in MATCH_MODES:
        raise ValueError(f"match mode {match_mode!r}: expected one of {', '.join(MATCH_MODES)}")
    gold_by_record, pred_by_record, meta = {}, {}, {}
    counts = {"rows": 0, "missing": 0, "unparseable": 0}
    seen = set()
    for row in rows:
        seen.add(row["id"])
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
            parsed = parse_answer(answer, task)
            if parsed is None:
                counts["unparseable"] += 1
                parsed = []
        predicted = [s for s in parsed if s["type"] in asked]
        for store, structures in ((gold_by_record, gold), (pred_by_record, predicted)):
            merged = store.setdefault(key, {f: Counter() for f in FAMILIES[task]})
            for family, tuples in tuples_of(structures, task).items():
                merged[family].update(tuples)
    unknown = [i for i in predictions if i not in seen]
    if unknown:
        raise UnknownIds(
            f"{len(unknown)} of {len(predictions)} prediction ids are not rows of this split "
            f"(first: {unknown[0]!r}); check --config and --split"
        )

    totals = defaultdict(lambda: [0, 0, 0])  # (scope...) -> tp, pred, gold
    for key, gold in gold_by_record.items():
        corpus, task = meta[key]
        pred = pred_by_record[key]
        for family in FAMILIES[task]:
            g, p = gold[family], pred[family]
            tp, n_pred, n_gold = _matched(g, p, match_mode)
            for scope in (("overall",), ("task", family), ("corpus", corpus, family)):
                totals[scope][0] += tp
                totals[scope][1] += n_pred
                totals[scope][2] += n_gold
            for t in {x[0] for x in g} | {x[0] for x in p}:
                gt = Counter({x: c for x, c in g.items() if x[0] == t})
                pt = Counter({x: c for x, c in p.items() if x[0] == t})
                tp, n_pred, n_gold = _matched(gt, pt, match_mode)
                for scope in (("type", family, t), ("corpus_type", corpus, family, t)):
                    totals[scope][0] += tp
                    totals[scope][1] += n_pred
                    totals[scope][2] += n_gold
    result = {
        "overall": prf(*totals[("overall",)]), "by_task": {}, "by_corpus": {}, "by_type": {}, "by_corpus_type": {},
        **counts, "records": len(gold_by_record), "match_mode": match_mode,
    }
    for scope, values in sorted(totals.items()):
        if scope[0] == "task":
            result["by_task"][scope[1]] = prf(*values)
        elif scope[0] == "corpus":
            result["by_corpus"].setdefault(scope[1], {})[scope[2]] = prf(*values)
        elif scope[0] == "type":
            result["by_type"].setdefault(scope[1], {})[scope[2]] = prf(*values)
        elif scope[0] == "corpus_type":
            result["by_corpus_type"].setdefault(scope[1], {}).setdefault(scope[2], {})[scope[3]] = prf(*values)
    return result


def _json_lines(path: str):
    """(line number, object) for each non-blank line; a line that is not a JSON object fails loudly."""
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as err:
                raise ValueError(f"{path}:{line_no}: not JSON ({err})") from None
            if not isinstance(item, dict):
                raise ValueError(f"{path}:{line_no}: expected a JSON object, got {type(item).__name__}")
            yield line_no, item


def is_llamafactory(path: str) -> bool:
    """Whether a predictions file is LLaMA-Factory's ``generated_predictions.jsonl`` (by its first object's keys)."""
    for _, item in _json_lines(path):
        return "predict" in item and "prompt" in item and "id" not in item
    return False


def read_predictions(path: str) -> dict:
    """``{row id: output}`` from ``{"id", "output"}`` JSON Lines; a line without ``id`` fails loudly."""
    predictions = {}
    for line_no, item in _json_lines(path):
        if "id" not in item:
            raise ValueError(f"{path}:{line_no}: expected a JSON object with 'id' and 'output' (keys: {', '.join(item) or 'none'})")
        predictions[str(item["id"])] = item.get("output")
    return predictions


def _comparable(text: str) -> str:
    """Text as it survives a tokenizer round trip: NFC-normalized (Qwen's tokenizer normalizes),
    without whitespace (decoding may add or drop spaces around tokens)."""
    return "".join(unicodedata.normalize("NFC", text).split())


def align_llamafactory(path: str, rows: Iterable[dict]) -> dict:
    """``{row id: predict}`` from LLaMA-Factory's ``generated_predictions.jsonl`` for the rows of
    the exported eval file, in order: line i answers row i, whose prompt must occur in the line's
    ``prompt``. Rows with the same prompt are thus aligned in file order."""
    rows = iter(rows)
    predictions, line_count = {}, 0
    for line_no, item in _json_lines(path):
        line_count += 1
        if "prompt" not in item or "predict" not in item:
            raise ValueError(f"{path}:{line_no}: expected LLaMA-Factory's keys 'prompt' and 'predict' (keys: {', '.join(item) or 'none'})")
        row = next(rows, None)
        if row is None:
            raise ValueError(f"{path}:{line_no}: more predictions than rows in the split ({line_count - 1} rows); predicted on another file?")
        if _comparable(prompt_of(row)) not in _comparable(str(item["prompt"])):
            raise ValueError(
                f"{path}:{line_no}: its prompt does not contain the prompt of row {row['id']!r} (line {line_count} of the export); "
                "predicted on another config/split, reordered, or truncated by cutoff_len?"
            )
        predictions[row["id"]] = item["predict"]
    missing = sum(1 for _ in rows)
    if missing:
        raise ValueError(f"{path}:{line_count + 1}: the file ends after {line_count} predictions but the split has {line_count + missing} rows")
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
    lines.append(
        f"records {result['records']}, rows {result['rows']}, missing {result['missing']}, unparseable {result['unparseable']}, "
        f"match mode {result.get('match_mode', 'set')}"
    )
    return "\n".join(lines)
