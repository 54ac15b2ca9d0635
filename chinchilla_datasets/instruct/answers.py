"""Parsing answers back: a model's text answer (fenced, full-width punctuation, trailing commas,
truncated JSON) into structures comparable with the gold ones (``parse_output``, ``canonical``)."""

from __future__ import annotations

import json
import re
from typing import Optional


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
