"""A re-implementation of IEPile's evaluator (zjunlp/IEPile ``ie2instruction/eval_func.py`` with its
``eval/extracter`` and ``eval/metric`` classes), written from reading it, used as a test oracle for
``chinchilla score``. IEPile's repository states no code licence (its README licenses the data,
CC BY-NC-SA 4.0), so nothing is copied: the rules below are restated.

What IEPile's evaluator does, and this file repeats:
- input: JSON Lines with ``id``, ``source`` (optional, default ``"None"``), ``instruction`` (a JSON
  string), ``label`` (a JSON string: IEPile's label records) and ``output`` (the model's answer);
  lines with the same ``source + id`` are one instance: their outputs are all read, the label is
  the first line's;
- an answer is read with plain ``json.loads``; anything but a JSON object is an error (counted, no
  predictions); under each key whose value is a list: NER keeps string items as (mention, type);
  RE keeps dict items as (subject, relation, object), ``subject``/``object`` defaulting to ``""``,
  skipping items where either is not a string; EE keeps dict items whose ``trigger`` (default
  ``""``) is a string as (type, trigger, ((value, role), ...)), each role's value or list of
  values, ``"NAN"`` values skipped;
- labels: NER (entity, entity_type); RE (head, relation, tail); EE (event_type, event_trigger,
  ((argument, role), ...));
- counting per instance: EE splits into events (type, trigger) and arguments (type, value, role);
  ``set`` mode turns each side into a set first; then pred and gold counts are the sizes and every
  prediction found among the not-yet-matched gold items is one true positive (and uses that item up);
- P, R = tp / pred, tp / gold as percentages rounded to 2 places (0 when the divisor is 0),
  F1 = 2PR / (P + R) rounded to 2 places.
"""

from __future__ import annotations

import json
from collections import OrderedDict

NAN = "NAN"


def read_answer(task: str, text: str):
    """(ok, items) as IEPile's extracters read a model answer."""
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return False, []
    if not isinstance(value, dict):
        return False, []
    items = []
    for key, values in value.items():
        if not isinstance(values, list):
            continue
        for item in values:
            if task == "NER":
                if isinstance(item, str):
                    items.append((item, key))
            elif task == "RE":
                if not isinstance(item, dict):
                    continue
                subject, obj = item.get("subject", ""), item.get("object", "")
                if isinstance(subject, str) and isinstance(obj, str):
                    items.append((subject, key, obj))
            elif task == "EE":
                if not isinstance(item, dict) or not isinstance(item.get("trigger", ""), str):
                    continue
                arguments = []
                for role, values_ in (item.get("arguments") or {}).items():
                    for v in values_ if isinstance(values_, list) else [values_]:
                        if v != NAN:
                            arguments.append((v, role))
                items.append((key, item.get("trigger", ""), tuple(arguments)))
    return True, items


def label_items(task: str, label: list) -> list:
    if task == "NER":
        return [(x["entity"], x["entity_type"]) for x in label]
    if task == "RE":
        return [(x.get("head", ""), x.get("relation", ""), x.get("tail", "")) for x in label]
    return [(x["event_type"], x["event_trigger"], tuple((a["argument"], a["role"]) for a in x["arguments"])) for x in label]


class Counts:
    def __init__(self, match_mode: str):
        self.match_mode, self.tp, self.pred, self.gold = match_mode, 0, 0, 0

    def add(self, gold: list, pred: list) -> None:
        if self.match_mode == "set":
            gold, pred = list(set(gold)), list(set(pred))
        self.pred += len(pred)
        self.gold += len(gold)
        unmatched = list(gold)
        for item in pred:
            if item in unmatched:
                self.tp += 1
                unmatched.remove(item)

    def figures(self) -> dict:
        p = round(self.tp / self.pred * 100, 2) if self.pred else 0.0
        r = round(self.tp / self.gold * 100, 2) if self.gold else 0.0
        return {"tp": self.tp, "pred": self.pred, "gold": self.gold, "P": p, "R": r, "F1": round(2 * p * r / (p + r), 2) if p + r else 0.0}


def evaluate(lines: list, task: str, match_mode: str = "normal") -> dict:
    """IEPile's totals for ``lines`` (dicts as read from its input file): NER/RE ``{"total": …}``,
    EE ``{"event": …, "argument": …}``; plus ``errors`` (answers that are not a JSON object)."""
    instances: "OrderedDict[str, dict]" = OrderedDict()
    for line in lines:
        key = line.get("source", "None") + line["id"]
        if key in instances:
            instances[key]["outputs"].append(line["output"])
        else:
            instances[key] = {"outputs": [line["output"]], "label": json.loads(line["label"])}
    if task == "EE":
        counters = {"event": Counts(match_mode), "argument": Counts(match_mode)}
    else:
        counters = {"total": Counts(match_mode)}
    errors = 0
    for instance in instances.values():
        pred = []
        for output in instance["outputs"]:
            ok, items = read_answer(task, output)
            errors += not ok
            pred.extend(items)
        gold = label_items(task, instance["label"])
        if task == "EE":
            counters["event"].add([(t, trig) for t, trig, _ in gold], [(t, trig) for t, trig, _ in pred])
            counters["argument"].add(
                [(t, v, r) for t, _, args in gold for v, r in args], [(t, v, r) for t, _, args in pred for v, r in args]
            )
        else:
            counters["total"].add(gold, pred)
    return {**{name: c.figures() for name, c in counters.items()}, "errors": errors}
