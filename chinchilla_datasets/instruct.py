"""The instruction view: rendering unified records into instruction rows, and parsing answers back.

Rendering is a batched function for ``Dataset.map``; it is pure, so the same unified rows give
byte-identical instruction rows whatever ``num_proc``. Everything random (the template, negative
types, which empty records are kept) is a hash of the row or record id and the seed.

Schema-conditioned prompts: each row asks for a batch of types (defaults NER 6, RE 4, EE 4) and
its answer lists every asked type, absent ones as empty lists.
- Evaluation splits (anything but ``train``): the full schema in batches, no sampling.
- ``train``: the gold types plus sampled negative types (``negative_ratio`` per gold type, hard
  negatives first: types that co-occur with the gold ones in the corpus's training split), spread
  so that every row has at least one gold type. Records without any annotation give all-empty rows;
  only the ones with the smallest hashes are kept, so that all-empty rows stay within
  ``empty_cap`` of the split. EE corpora also get the sub-tasks EET (type + trigger) and EEA
  (arguments given type and trigger) in ``train``.

Answers are JSON objects keyed by the (readable) type names listed in the instruction:
- NER: ``{"人名": ["张三"], "地名": []}``
- RE:  ``{"作者": [{"head": "…", "tail": "…", "qualifiers": {"inWork": "…"}}]}``
- EE:  ``{"公司上市": [{"trigger": "…", "arguments": [{"role": "…", "argument": "…"}]}]}``
- EET: ``{"公司上市": ["IPO"]}``;  EEA: ``{"上市公司": ["…"], "披露时间": []}``
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
import string
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Iterator, Optional

import yaml

from .schema import TASK_COLUMN

TEMPLATE_FILES = {"NER": "ner.yaml", "RE": "re.yaml", "EE": "ee.yaml", "EET": "eet.yaml", "EEA": "eea.yaml"}
KNOWN_PLACEHOLDERS = {"schema", "event_type", "trigger"}
INSTRUCT_COLUMNS = ("id", "record_id", "corpus", "task", "split", "instruction", "input", "output", "template_id", "schema", "params")
TRAIN_SPLIT = "train"


@dataclass(frozen=True)
class InstructOptions:
    """Generation parameters, recorded as JSON on every row (``params``) so a view can be regenerated."""

    seed: int = 42
    language: str = "zh"
    ner_batch: int = 6
    re_batch: int = 4
    ee_batch: int = 4
    negative_ratio: float = 1.0
    empty_cap: float = 0.10
    subtasks: bool = True

    def batch_size(self, task: str) -> int:
        return {"NER": self.ner_batch, "RE": self.re_batch}.get(task, self.ee_batch)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- templates


@lru_cache(maxsize=None)
def load_templates() -> dict:
    """All templates, as ``{task: [template, ...]}``; each has id, task, language, placeholders, text."""
    out = {}
    for task, file_name in TEMPLATE_FILES.items():
        text = resources.files("instructions").joinpath(file_name).read_text(encoding="utf-8")
        out[task] = yaml.safe_load(text)
    return out


def template_placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _hash(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


@lru_cache(maxsize=None)
def _candidates(task: str, language: str) -> tuple:
    candidates = tuple(t for t in load_templates()[task] if t["language"] == language)
    if not candidates:
        raise ValueError(f"no {language} template for task {task}")
    return candidates


def choose_template(task: str, row_id: str, seed: int = 42, language: str = "zh") -> dict:
    """The template of a row: a pure function of the row id and the seed."""
    candidates = _candidates(task, language)
    return candidates[_hash(seed, row_id) % len(candidates)]


# ---------------------------------------------------------------- gold answers


def gold_labels(record: dict) -> list:
    """The labels annotated in a record, in order of first appearance."""
    return list(dict.fromkeys(item["type"] for item in record[TASK_COLUMN[record["task"]]]))


def answer_for(record: dict, labels: list, display: dict) -> dict:
    """The gold answer restricted to ``labels``: every label is a key (readable name), in order."""
    answer: dict = {display.get(label, label): [] for label in labels}
    wanted = set(labels)
    task = record["task"]
    if task == "NER":
        for ent in record["entities"]:
            if ent["type"] in wanted:
                mentions = answer[display.get(ent["type"], ent["type"])]
                if ent["text"] not in mentions:
                    mentions.append(ent["text"])
    elif task == "RE":
        for rel in record["relations"]:
            if rel["type"] in wanted:
                item = {"head": rel["head"]["text"], "tail": rel["tail"]["text"]}
                if rel["qualifiers"]:
                    item["qualifiers"] = {q["role"]: q["text"] for q in rel["qualifiers"]}
                items = answer[display.get(rel["type"], rel["type"])]
                if item not in items:
                    items.append(item)
    else:
        for ev in record["events"]:
            if ev["type"] in wanted:
                answer[display.get(ev["type"], ev["type"])].append(
                    {"trigger": ev["trigger"]["text"], "arguments": [{"role": a["role"], "argument": a["text"]} for a in ev["arguments"]]}
                )
    return answer


# json.dumps(value, ensure_ascii=False) builds a new encoder on every call; this is the same encoder, built once.
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def describe(labels: list, display: dict, roles: dict) -> str:
    """How the asked types are listed in an instruction (EE types with their roles in brackets)."""
    parts = []
    for label in labels:
        name = display.get(label, label)
        parts.append(f"{name}（{'、'.join(roles[label])}）" if roles.get(label) else name)
    return "、".join(parts)


# ---------------------------------------------------------------- training-split statistics


def corpus_stats(records: Iterable[dict], schema: dict, options: InstructOptions) -> dict:
    """What training rows need from the whole split: type co-occurrence counts (for hard
    negatives) and the hash threshold below which all-empty records are kept (for the cap)."""
    cooccur: dict = {}
    all_labels = [label for label, _ in schema["types"]]
    annotated_rows, empty_hashes, empty_records, rows_per_empty = 0, [], 0, 1
    for record in records:
        gold = gold_labels(record)
        subtasks = _with_subtasks(record, options)
        if gold:
            for a in gold:
                row = cooccur.setdefault(a, {})
                for b in gold:
                    if a != b:
                        row[b] = row.get(b, 0) + 1
            # EE with sub-tasks: one EET row per EE row, one EEA row per event.
            annotated_rows += math.ceil(len(gold) / options.batch_size(record["task"])) * (2 if subtasks else 1)
            annotated_rows += len(record["events"]) if subtasks else 0
        else:
            empty_records += 1
            empty_hashes.append(_hash(options.seed, "empty", record["id"]))
            rows_per_empty = 2 if subtasks else 1
    cap = options.empty_cap
    allowed = math.floor(cap / (1 - cap) * annotated_rows / rows_per_empty) if cap < 1 else empty_records
    kept = heapq.nsmallest(allowed, empty_hashes) if allowed else []
    return {
        "cooccur": {a: dict(sorted(row.items())) for a, row in sorted(cooccur.items())},
        "empty_threshold": kept[-1] if kept else -1,
        "empty_records": empty_records,
        "empty_kept": len(kept),
    }


def _with_subtasks(record: dict, options: InstructOptions) -> bool:
    return options.subtasks and record["task"] == "EE"


def _train_batches(record: dict, gold: list, all_labels: list, cooccur: dict, options: InstructOptions, order: Optional[dict] = None) -> list:
    """Gold labels plus hard negatives, spread so that every batch holds a gold label.
    ``order`` is ``{label: index}`` of ``all_labels`` (pass it when calling for many records)."""
    if order is None:
        order = {label: i for i, label in enumerate(all_labels)}
    k = options.batch_size(record["task"])
    batches = math.ceil(len(gold) / k)
    absent_count = len(all_labels) - sum(1 for label in set(gold) if label in order)
    wanted = min(absent_count, math.ceil(options.negative_ratio * len(gold)), batches * k - len(gold))
    negatives = _hardest(gold, all_labels, order, cooccur, wanted, options.seed, record["id"]) if wanted > 0 else []
    if batches == 1:
        return [sorted(gold + negatives, key=lambda label: order.get(label, len(order)))]
    chunks = [[] for _ in range(batches)]
    for i, label in enumerate(gold + negatives):
        chunks[i % batches].append(label)
    return [sorted(chunk, key=lambda label: order.get(label, len(order))) for chunk in chunks]


def _hardest(gold: list, all_labels: list, order: dict, cooccur: dict, wanted: int, seed, record_id) -> list:
    """The first ``wanted`` schema labels absent from ``gold``, ordered by co-occurrence with ``gold``
    (most first), ties broken by ``_hash(seed, record_id, label)`` -- computed without sorting the
    whole schema: only the labels above the cut and those tied at it are ordered (and hashed)."""
    gold_set = set(gold)
    if len(gold) == 1:
        score = cooccur.get(gold[0], {})
    else:
        score = {}
        for g in gold:
            for label, n in cooccur.get(g, {}).items():
                score[label] = score.get(label, 0) + n
    candidates = {label: n for label, n in score.items() if n > 0 and label in order and label not in gold_set}
    if len(candidates) >= wanted:
        cut = heapq.nlargest(wanted, candidates.values())[-1]
        above = [label for label, n in candidates.items() if n > cut]
        tied = [label for label, n in candidates.items() if n == cut]
    else:  # the cut falls among the labels that never co-occur with the gold ones
        above = list(candidates)
        tied = [label for label in all_labels if label not in gold_set and label not in candidates]
    prefix = hashlib.sha256(f"{seed}:{record_id}:".encode())

    def tie_break(label) -> int:  # == _hash(seed, record_id, label)
        h = prefix.copy()
        h.update(str(label).encode())
        return int.from_bytes(h.digest()[:8], "big")

    if len(above) > 1:
        above.sort(key=lambda label: (-candidates[label], tie_break(label)))
    if len(tied) > 1:
        tied.sort(key=tie_break)
    return above + tied[: wanted - len(above)]


def _eval_batches(record: dict, gold: list, all_labels: list, options: InstructOptions) -> list:
    labels = all_labels + [label for label in gold if label not in all_labels]
    k = options.batch_size(record["task"])
    return [labels[i : i + k] for i in range(0, len(labels), k)]


# ---------------------------------------------------------------- rendering


def render_records(records: Iterable[dict], split: str, schema: dict, options: InstructOptions, stats: Optional[dict] = None) -> Iterator[dict]:
    """Instruction rows (dicts) for unified records, in record order."""
    display = dict(schema["types"])
    all_labels = [label for label, _ in schema["types"]]
    roles = schema.get("roles", {})
    params = json.dumps({**options.to_dict(), "split_mode": "train" if split == TRAIN_SPLIT else "eval"}, sort_keys=True)
    stats = stats or {"cooccur": {}, "empty_threshold": -1}
    order = {label: i for i, label in enumerate(all_labels)}
    described: dict = {}  # the same label batches recur on every record: describe and format once
    instructions: dict = {}

    def schema_text(labels: list, with_roles: bool = True) -> str:
        key = (tuple(labels), with_roles)
        if key not in described:
            if len(described) > 10_000:  # train batches vary with the negatives: keep memory bounded
                described.clear()
                instructions.clear()
            described[key] = describe(labels, display, roles if with_roles else {})
        return described[key]

    def row(record, task, suffix, labels, instruction_args, output):
        row_id = f"{record['id']}#{suffix}"
        template = choose_template(task, row_id, options.seed, options.language)
        if len(instruction_args) == 1:  # schema only: a few distinct texts (EEA's carry the trigger: not cached)
            key = (template["id"], instruction_args["schema"])
            instruction = instructions.get(key)
            if instruction is None:
                instruction = instructions[key] = template["text"].format(**instruction_args)
        else:
            instruction = template["text"].format(**instruction_args)
        return {
            "id": row_id,
            "record_id": record["id"],
            "corpus": record["corpus"],
            "task": task,
            "split": split,
            "instruction": instruction,
            "input": record["text"],
            "output": _dumps(output),
            "template_id": template["id"],
            "schema": labels,
            "params": params,
        }

    for record in records:
        task = record["task"]
        gold = gold_labels(record)
        if split != TRAIN_SPLIT:
            batches = _eval_batches(record, gold, all_labels, options)
        elif gold:
            batches = _train_batches(record, gold, all_labels, stats["cooccur"], options, order)
        elif _hash(options.seed, "empty", record["id"]) <= stats["empty_threshold"]:
            k = options.batch_size(task)
            batches = [sorted(all_labels, key=lambda label: _hash(options.seed, record["id"], label))[:k]]
        else:
            batches = []  # an all-empty record beyond the cap (counted in the build report)
        answers = [answer_for(record, labels, display) for labels in batches]
        for b, (labels, answer) in enumerate(zip(batches, answers)):
            names = [display.get(label, label) for label in labels]
            yield row(record, task, f"{task.lower()}{b}", names, {"schema": schema_text(labels)}, answer)
        if split == TRAIN_SPLIT and _with_subtasks(record, options):
            for b, (labels, answer) in enumerate(zip(batches, answers)):
                triggers = {name: [ev["trigger"] for ev in evs] for name, evs in answer.items()}
                yield row(record, "EET", f"eet{b}", [display.get(label, label) for label in labels], {"schema": schema_text(labels, with_roles=False)}, triggers)
            for e, event in enumerate(record["events"]):
                event_roles = list(roles.get(event["type"], []))
                event_roles += [a["role"] for a in event["arguments"] if a["role"] not in event_roles]
                answer = {role: [] for role in event_roles}
                for arg in event["arguments"]:
                    if arg["text"] not in answer[arg["role"]]:
                        answer[arg["role"]].append(arg["text"])
                args = {"event_type": display.get(event["type"], event["type"]), "trigger": event["trigger"]["text"], "schema": "、".join(event_roles)}
                yield row(record, "EEA", f"eea{e}", event_roles, args, answer)


def render_batch(batch: dict, *, split: str, schema: dict, options: Optional[dict] = None, stats: Optional[dict] = None) -> dict:
    """``Dataset.map(batched=True)`` function: unified columns in, instruction columns out."""
    opts = InstructOptions(**(options or {}))
    columns = list(batch)
    records = ({c: batch[c][i] for c in columns} for i in range(len(batch["id"])))
    rows = list(render_records(records, split, schema, opts, stats))
    return {key: [row[key] for row in rows] for key in INSTRUCT_COLUMNS}


# ---------------------------------------------------------------- parsing answers back

_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)(?:```|$)", re.S)
_FULL_WIDTH = str.maketrans({"：": ":", "，": ",", "“": '"', "”": '"', "｛": "{", "｝": "}", "［": "[", "］": "]"})
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _cut_points(text: str) -> list:
    """Offsets just after each complete value (``]``/``}``) or before each ``,`` outside strings, last first."""
    points, in_string, escaped = [], False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ",":
            points.append(i)
        elif ch in "]}":
            points.append(i + 1)
    return points[::-1]


def load_answer(answer: str):
    """The JSON object in a model answer, or None. Tolerates code fences, prose around the JSON,
    full-width punctuation, trailing commas and truncation (only complete items are recovered)."""
    import json_repair

    text = answer.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    for attempt in (text, text.translate(_FULL_WIDTH)):
        start = attempt.find("{")
        if start < 0:
            continue
        body = attempt[start:]
        end = body.rfind("}")
        for candidate in (body, body[: end + 1] if end >= 0 else body):
            for variant in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
                try:
                    value = json.loads(variant)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    return value
        # Truncated: cut after the last complete item and let json_repair close the brackets.
        for cut in _cut_points(body):
            value = json_repair.loads(body[:cut])
            if isinstance(value, dict) and value:
                return value
    return None


def parse_output(answer: str, task: str, labels: Optional[dict] = None) -> Optional[list]:
    """Structures in a model's answer (or a gold ``output``) for a row of ``task``, or None when
    nothing parses. ``labels`` maps the readable type names back to the corpus's own labels.

    Returns dicts: NER ``{type, text}``; RE ``{type, head, tail, qualifiers}``; EE ``{type,
    trigger, arguments: [{role, text}]}``; EET ``{type, trigger}``; EEA ``{role, text}``.
    """
    value = load_answer(answer) if isinstance(answer, str) else None
    if not isinstance(value, dict):
        return None
    labels = labels or {}
    out = []
    for name, items in value.items():
        type_ = labels.get(name, name)
        if not isinstance(items, list):
            continue
        for item in items:
            if task == "NER" and isinstance(item, (str, int, float)):
                out.append({"type": type_, "text": str(item)})
            elif task == "EET" and isinstance(item, (str, int, float)):
                out.append({"type": type_, "trigger": str(item)})
            elif task == "EEA" and isinstance(item, (str, int, float)):
                out.append({"role": name, "text": str(item)})
            elif task == "RE" and isinstance(item, dict) and "head" in item and "tail" in item:
                qualifiers = item.get("qualifiers") if isinstance(item.get("qualifiers"), dict) else {}
                out.append({"type": type_, "head": str(item["head"]), "tail": str(item["tail"]), "qualifiers": {str(k): str(v) for k, v in qualifiers.items()}})
            elif task == "EE" and isinstance(item, dict) and "trigger" in item:
                args = [
                    {"role": str(a["role"]), "text": str(a["argument"])}
                    for a in item.get("arguments") or []
                    if isinstance(a, dict) and "role" in a and "argument" in a
                ]
                out.append({"type": type_, "trigger": str(item["trigger"]), "arguments": args})
    return out


def structures_of(record: dict) -> list:
    """The structures of a unified record in the shape ``parse_output`` returns (for comparing)."""
    task = record["task"]
    if task == "NER":
        return [{"type": e["type"], "text": e["text"]} for e in record["entities"]]
    if task == "RE":
        return [
            {"type": r["type"], "head": r["head"]["text"], "tail": r["tail"]["text"], "qualifiers": {q["role"]: q["text"] for q in r["qualifiers"]}}
            for r in record["relations"]
        ]
    return [
        {"type": e["type"], "trigger": e["trigger"]["text"], "arguments": [{"role": a["role"], "text": a["text"]} for a in e["arguments"]]}
        for e in record["events"]
    ]


def canonical(structures: list) -> set:
    """A set of hashable strings for comparing structures regardless of order and repetition."""
    return {json.dumps(s, ensure_ascii=False, sort_keys=True) for s in structures}
