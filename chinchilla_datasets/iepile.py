"""IEPile's instruction format (zjunlp/IEPile), both ways: exporting instruct rows in it, and reading
answers written in its shapes back into ours, so a Chinchilla-trained model and IEPile/OneKE are
scored on the same footing.

An IEPile row is ``{id, task, source, instruction, output, label}``:
- ``instruction`` is a JSON *string* ``{"instruction": <IEPile's task description>, "schema": [...],
  "input": <text>}``; the schema is the row's asked types (EE: ``{"event_type", "trigger": true,
  "arguments": [roles]}`` with the roles the row's own instruction lists);
- ``output`` (the training target) is IEPile's answer JSON: NER ``{type: [mention]}``; RE
  ``{relation: [{"subject", "object"}]}`` (our qualifiers have no place there and are dropped);
  EE ``{event_type: [{"trigger", "arguments": {role: value | [values] | "NAN"}}]}`` (every schema
  role present, ``"NAN"`` when absent, a list when a role has several values, ``{}`` when none);
- ``label`` is IEPile's test label (a JSON string its ``eval_func.py`` reads): NER
  ``[{"entity", "entity_type"}]``, RE ``[{"head", "relation", "tail"}]``, EE ``[{"event_type",
  "event_trigger", "arguments": [{"argument", "role"}]}]`` — the gold of the row's asked types only.
  ``id`` stays the row id (unique), so IEPile's evaluator, which merges rows by ``source + id``,
  scores each batch on its own; the batches of an evaluation record ask disjoint types, so its
  totals equal ours, which merge batches per record.

IEPile has EET/EEA sub-task rows too, but their exact answer shapes are not documented in its
README; our EET/EEA training rows are left out of this format (``write_rows`` counts them).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Optional

from .instruct import parse_output

NAN = "NAN"  # IEPile's "no value" for a role (and for a missing trigger)

# IEPile's task descriptions (convert/utils/instruction.py), by task and language.
INSTRUCTIONS = {
    ("NER", "zh"): "你是专门进行实体抽取的专家。请从input中抽取出符合schema定义的实体，不存在的实体类型返回空列表。请按照JSON字符串的格式回答。",
    ("RE", "zh"): "你是专门进行关系抽取的专家。请从input中抽取出符合schema定义的关系三元组，不存在的关系返回空列表。请按照JSON字符串的格式回答。",
    ("EE", "zh"): "你是专门进行事件提取的专家。请从input中抽取出符合schema定义的事件，不存在的事件返回空列表，不存在的论元返回NAN，如果论元存在多值请返回列表。请按照JSON字符串的格式回答。",
    ("NER", "en"): "You are an expert in named entity recognition. Please extract entities that match the schema definition from the input. Return an empty list if the entity type does not exist. Please respond in the format of a JSON string.",
    ("RE", "en"): "You are an expert in relationship extraction. Please extract relationship triples that match the schema definition from the input. Return an empty list for relationships that do not exist. Please respond in the format of a JSON string.",
    ("EE", "en"): "You are an expert in event extraction. Please extract events from the input that conform to the schema definition. Return an empty list for events that do not exist, and return NAN for arguments that do not exist. If an argument has multiple values, please return a list. Respond in the format of a JSON string.",
}
TASKS = ("NER", "RE", "EE")


def language_of(row: dict) -> str:
    """The row's language, from its template id (``ner-zh-2``)."""
    parts = str(row.get("template_id") or "").split("-")
    return "en" if len(parts) > 1 and parts[1] == "en" else "zh"


def listed_roles(instruction: str, event_type: str) -> list:
    """The roles an EE instruction lists for ``event_type`` (``类型（角色、角色）``, see ``describe``)."""
    match = re.search(re.escape(event_type) + r"（([^（）]*)）", instruction)
    return [role for role in match.group(1).split("、") if role] if match else []


def _gold(row: dict) -> list:
    asked = set(row["schema"])
    return [s for s in parse_output(row["output"], row["task"]) or [] if s["type"] in asked]


def iepile_schema(row: dict, gold: list) -> list:
    if row["task"] != "EE":
        return list(row["schema"])
    schema = []
    for event_type in row["schema"]:
        roles = listed_roles(row["instruction"], event_type)
        for event in gold:  # a gold role the instruction did not list still gets its key
            for arg in event["arguments"] if event["type"] == event_type else ():
                if arg["role"] not in roles:
                    roles.append(arg["role"])
        schema.append({"event_type": event_type, "trigger": True, "arguments": roles})
    return schema


def iepile_answer(task: str, schema: list, gold: list) -> dict:
    """IEPile's answer object for ``gold`` structures (ours) asked with ``schema``."""
    names = [s["event_type"] for s in schema] if task == "EE" else list(schema)
    answer = {name: [] for name in names}
    for s in gold:
        if task == "NER":
            answer[s["type"]].append(s["text"])
        elif task == "RE":
            answer[s["type"]].append({"subject": s["head"], "object": s["tail"]})
        else:
            roles = next(x["arguments"] for x in schema if x["event_type"] == s["type"])
            values = defaultdict(list)
            for arg in s["arguments"]:
                if arg["text"] and arg["text"] not in values[arg["role"]]:
                    values[arg["role"]].append(arg["text"])
            arguments = {}
            if values:
                arguments = {role: (values[role][0] if len(values[role]) == 1 else values[role]) if values[role] else NAN for role in roles}
            answer[s["type"]].append({"trigger": s["trigger"] or NAN, "arguments": arguments})
    return answer


def iepile_label(task: str, gold: list) -> list:
    """IEPile's test label records for ``gold`` structures (ours)."""
    if task == "NER":
        return [{"entity": s["text"], "entity_type": s["type"]} for s in gold]
    if task == "RE":
        return [{"head": s["head"], "relation": s["type"], "tail": s["tail"]} for s in gold]
    return [
        {"event_type": s["type"], "event_trigger": s["trigger"], "arguments": [{"argument": a["text"], "role": a["role"]} for a in s["arguments"]]}
        for s in gold
    ]


def to_iepile(row: dict) -> Optional[dict]:
    """An instruct row in IEPile's format, or None for rows IEPile's format has no shape for here (EET/EEA)."""
    task = row["task"]
    if task not in TASKS:
        return None
    gold = _gold(row)
    schema = iepile_schema(row, gold)
    instruction = {"instruction": INSTRUCTIONS[(task, language_of(row))], "schema": schema, "input": row["input"]}
    return {
        "id": row["id"],
        "task": task,
        "source": row["corpus"],
        "instruction": json.dumps(instruction, ensure_ascii=False),
        "output": json.dumps(iepile_answer(task, schema, gold), ensure_ascii=False),
        "label": json.dumps(iepile_label(task, gold), ensure_ascii=False),
    }


def from_iepile_shapes(value: dict, task: str) -> dict:
    """An answer object with IEPile's key names rewritten to ours (``subject``/``object`` ->
    ``head``/``tail``; EE ``arguments`` as ``{role: value | [values]}`` -> ``[{role, argument}]``,
    ``"NAN"`` values dropped); answers already in our shapes pass through unchanged."""
    if task not in ("RE", "EE"):
        return value
    out = {}
    for name, items in value.items():
        if not isinstance(items, list):
            out[name] = items
            continue
        converted = []
        for item in items:
            if isinstance(item, dict) and task == "RE" and "head" not in item and ("subject" in item or "object" in item):
                item = {**item, "head": item.get("subject", ""), "tail": item.get("object", "")}
            elif isinstance(item, dict) and task == "EE" and isinstance(item.get("arguments"), dict):
                arguments = []
                for role, values in item["arguments"].items():
                    for v in values if isinstance(values, list) else [values]:
                        if v != NAN and isinstance(v, (str, int, float)):
                            arguments.append({"role": role, "argument": v})
                item = {**item, "arguments": arguments}
            converted.append(item)
        out[name] = converted
    return out
