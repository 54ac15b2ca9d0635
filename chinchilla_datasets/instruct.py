"""The instruction view: rendering unified records into instruction rows, and parsing answers back.

Rendering is a batched function for ``Dataset.map``; it is pure, so the same unified rows
give byte-identical instruction rows whatever ``num_proc``. The template a row gets is a
function of the row id and a seed only.

Answers are JSON objects keyed by the (readable) type names listed in the instruction:
- NER: ``{"人名": ["张三"], "地名": []}``
- RE:  ``{"作者": [{"head": "…", "tail": "…", "qualifiers": {"inWork": "…"}}]}``
- EE:  ``{"公司上市": [{"trigger": "…", "arguments": [{"role": "…", "argument": "…"}]}]}``
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Optional

import yaml

TEMPLATE_FILES = {"NER": "ner.yaml", "RE": "re.yaml", "EE": "ee.yaml"}
KNOWN_PLACEHOLDERS = {"schema"}
DEFAULT_SEED = 42
DEFAULT_LANGUAGE = "zh"


@lru_cache(maxsize=None)
def load_templates() -> dict:
    """All templates, as ``{task: [template, ...]}``; each template a dict with id, task, language, placeholders, text."""
    out = {}
    for task, file_name in TEMPLATE_FILES.items():
        text = resources.files("instructions").joinpath(file_name).read_text(encoding="utf-8")
        out[task] = yaml.safe_load(text)
    return out


def choose_template(task: str, row_id: str, seed: int = DEFAULT_SEED, language: str = DEFAULT_LANGUAGE) -> dict:
    candidates = [t for t in load_templates()[task] if t["language"] == language]
    if not candidates:
        raise ValueError(f"no {language} template for task {task}")
    digest = hashlib.sha256(f"{seed}:{row_id}".encode()).digest()
    return candidates[int.from_bytes(digest[:8], "big") % len(candidates)]


def describe_schema(schema: dict) -> str:
    """The types of a label schema as listed in an instruction."""
    parts = []
    for source, display in schema["types"]:
        roles = schema.get("roles", {}).get(source)
        parts.append(f"{display}（{'、'.join(roles)}）" if roles else display)
    return "、".join(parts)


def gold_output(record: dict, schema: dict) -> str:
    """The JSON answer for a unified record: every asked type is a key, in schema order."""
    display = dict(schema["types"])
    answer: dict = {name: [] for name in display.values()}
    task = record["task"]
    if task == "NER":
        for ent in record["entities"]:
            mentions = answer.setdefault(display.get(ent["type"], ent["type"]), [])
            if ent["text"] not in mentions:
                mentions.append(ent["text"])
    elif task == "RE":
        for rel in record["relations"]:
            item = {"head": rel["head"]["text"], "tail": rel["tail"]["text"]}
            if rel["qualifiers"]:
                item["qualifiers"] = {q["role"]: q["text"] for q in rel["qualifiers"]}
            items = answer.setdefault(display.get(rel["type"], rel["type"]), [])
            if item not in items:
                items.append(item)
    elif task == "EE":
        for ev in record["events"]:
            item = {
                "trigger": ev["trigger"]["text"],
                "arguments": [{"role": a["role"], "argument": a["text"]} for a in ev["arguments"]],
            }
            answer.setdefault(display.get(ev["type"], ev["type"]), []).append(item)
    else:
        raise ValueError(f"unknown task {task!r}")
    return json.dumps(answer, ensure_ascii=False)


def render_batch(batch: dict, *, split: str, schema: dict, seed: int = DEFAULT_SEED, language: str = DEFAULT_LANGUAGE) -> dict:
    """``Dataset.map(batched=True)`` function: unified columns in, instruction columns out."""
    out = {k: [] for k in ("id", "record_id", "corpus", "task", "split", "instruction", "input", "output", "template_id", "schema", "params")}
    described = describe_schema(schema)
    asked = [display for _, display in schema["types"]]
    params = json.dumps({"seed": seed, "language": language}, sort_keys=True)
    columns = list(batch)
    for i in range(len(batch["id"])):
        record = {c: batch[c][i] for c in columns}
        template = choose_template(record["task"], record["id"], seed, language)
        out["id"].append(record["id"])
        out["record_id"].append(record["id"])
        out["corpus"].append(record["corpus"])
        out["task"].append(record["task"])
        out["split"].append(split)
        out["instruction"].append(template["text"].format(schema=described))
        out["input"].append(record["text"])
        out["output"].append(gold_output(record, schema))
        out["template_id"].append(template["id"])
        out["schema"].append(asked)
        out["params"].append(params)
    return out


# ---------------------------------------------------------------- parsing answers back

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.S)
_FULL_WIDTH = str.maketrans({"：": ":", "，": ",", "“": '"', "”": '"', "｛": "{", "｝": "}", "［": "[", "］": "]"})


def _load_answer(answer: str):
    """The JSON value in a model answer, tolerating fences, surrounding prose, full-width
    punctuation, trailing commas and truncation (complete items are recovered)."""
    import json_repair

    text = answer.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    for attempt in (text, text.translate(_FULL_WIDTH)):
        start = attempt.find("{")
        if start < 0:
            continue
        try:
            return json.loads(attempt[start:])
        except ValueError:
            pass
        value = json_repair.loads(attempt[start:])
        if isinstance(value, dict):
            return value
    return None


def parse_output(answer: str, task: str, labels: Optional[dict] = None) -> Optional[list]:
    """Structures in a model's answer (or a gold ``output``), or None when nothing parses.

    Returns a list of dicts: NER ``{type, text}``; RE ``{type, head, tail, qualifiers}``;
    EE ``{type, trigger, arguments: [{role, text}]}``. ``labels`` maps the readable type
    names of the instruction back to the corpus's own labels.
    """
    value = _load_answer(answer)
    if not isinstance(value, dict):
        return None
    labels = labels or {}
    out = []
    for name, items in value.items():
        type_ = labels.get(name, name)
        if not isinstance(items, list):
            continue
        for item in items:
            if task == "NER" and isinstance(item, str):
                out.append({"type": type_, "text": item})
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
    """A set of hashable tuples for comparing structures regardless of order and repetition."""
    return {json.dumps(s, ensure_ascii=False, sort_keys=True) for s in structures}
