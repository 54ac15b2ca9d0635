"""DuIE-style subject-predicate-object records (DuIE, CMeIE) as unified relations, written once.

Both corpora list ``{"predicate", "subject", "subject_type", "object": {"@value", ...},
"object_type": {"@value", ...}}`` without offsets: subjects and objects are grounded at their first
occurrence (``spans.entity``). DuIE's complex predicates carry further object slots (``inWork``,
``onDate``, ...), which become qualifiers; CMeIE has ``@value`` only. Their schema files are JSON
Lines with a ``predicate`` key.
"""

from __future__ import annotations

from .sources import Reject, read_json_lines
from .spans import entity


def unified_spo(text: str, spo_list: list, flags: list, qualifier_slots: tuple = ()) -> tuple:
    """``(entities, relations)`` of an ``spo_list``: every head and tail listed once as an entity, in
    order of appearance; ``qualifier_slots`` name the object slots kept as qualifiers when not null.

    Linear in the number of SPOs: each distinct (type, mention) is grounded once and the entity
    list is deduplicated through a dict, not by scanning the list (a record with thousands of SPOs
    was quadratic)."""
    grounded: dict = {}  # (type, mention) -> span; grounding depends on nothing else
    entities: dict = {}  # (type, mention, start, end) -> entity, in first-seen order

    def span(type_, mention):
        key = (type_, mention)
        if key not in grounded:
            grounded[key] = entity(text, type_, mention, flags=flags)
        return dict(grounded[key])  # each relation its own dict

    relations = []
    for spo in spo_list:
        head = span(spo["subject_type"], spo["subject"])
        tail = span(spo["object_type"]["@value"], spo["object"]["@value"])
        qualifiers = []
        for slot in qualifier_slots:
            value = spo["object"][slot]
            if value is not None:
                qualifiers.append({"role": slot, **span(spo["object_type"][slot], value)})
        relations.append({"type": spo["predicate"], "head": head, "tail": tail, "qualifiers": qualifiers})
        for mention in (head, tail):
            entities.setdefault((mention["type"], mention["text"], mention["start"], mention["end"]), mention)
    return list(entities.values()), relations


def read_predicate_schema(path: str) -> dict:
    """The predicates of a JSON Lines schema file (one per ``predicate`` key, first seen first) as a
    label schema; an invalid line is skipped, as the schema only lists labels."""
    predicates = []
    for _, line in read_json_lines(path):
        predicate = line.get("predicate") if not isinstance(line, Reject) else None
        if isinstance(predicate, str) and predicate not in predicates:
            predicates.append(predicate)
    return {"types": [[p, p] for p in predicates], "roles": {}}
