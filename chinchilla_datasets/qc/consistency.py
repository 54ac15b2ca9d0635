"""Model-free consistency checks over a corpus's unified rows: NER surface forms, RE schema
contradictions, EE roles and triggers. Fast (a pass or two over the rows), no training.

NER (``SurfaceIndex``): the same string labelled with different types across the corpus, and a
string labelled in most of its occurrences but not in some (only occurrences outside every
labelled span count, so 中国 inside a labelled 中国银行 is not "unlabelled"). These counts are also
the consistency evidence the model-based ranking combines with the CRF's confidence. Span edges
on whitespace or punctuation are suspects of their own.

RE: a relation whose (head type, tail type) contradicts the schema — the schema given (a dict
``{relation: {(head type, tail type), ...}}``) or, without one, the pairs that make up at least
``SCHEMA_SHARE`` of that relation's occurrences in the corpus; head equal to tail (same text, offsets and type).
EE: argument roles outside the event type's schema (given, or seen for that type elsewhere);
triggers whose text is not in the sentence (unless over ``ABSENT_TRIGGER_SHARE`` of the corpus's
triggers are: then that is the corpus's convention, e.g. CHIP-CDEE's normalised terms); the same
event twice in a row.

Every check returns suspects as plain dicts (see ``report.SUSPECT_KEYS``).
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from typing import Optional

MIN_SURFACE = 2  # characters: single characters (省, 中) are too ambiguous to count
MAX_SURFACE = 16
SCHEMA_SHARE = 0.02  # a (head, tail) type pair under this share of a relation's occurrences is off-schema
EDGE_SCORE = 0.8
SCHEMA_SCORE = 0.7
SAME_SPAN_SCORE = 0.9
TRIGGER_SCORE = 0.9
DUPLICATE_SCORE = 0.6
ABSENT_TRIGGER_SHARE = 0.1  # of a corpus's triggers missing from their text, above which absence is its convention
BRACKETS = set("《》“”‘’\"'()（）[]【】<>〈〉「」『』")


def is_edge_noise(char: str) -> bool:
    """Whitespace or punctuation that should not start or end a mention (brackets and quotes can:
    CLUENER labels 《书名》 with its brackets)."""
    if char.isspace():
        return True
    return unicodedata.category(char)[0] == "P" and char not in BRACKETS


def suspect(row_id: str, kind: str, start, end, type_: Optional[str], score: float, suggestion, check: str, **evidence) -> dict:
    return {"id": row_id, "kind": kind, "start": start, "end": end, "type": type_, "score": round(float(score), 4), "suggestion": suggestion, "check": check, **evidence}


class SurfaceIndex:
    """How each labelled string of a corpus is labelled: counts per type, and how often it occurs
    outside every labelled span. ``rows``: ``(text, entities)`` pairs."""

    def __init__(self, rows: list):
        self.types: dict = defaultdict(Counter)  # surface -> type -> labelled occurrences
        for text, entities in rows:
            for e in entities:
                if e.get("start") is not None and MIN_SURFACE <= len(e["text"] or "") <= MAX_SURFACE:
                    self.types[e["text"]][e["type"]] += 1
        self.lengths = sorted({len(s) for s in self.types})
        self.unlabelled: Counter = Counter()
        for text, entities in rows:
            for start, end in self.unlabelled_occurrences(text, entities):
                self.unlabelled[text[start:end]] += 1

    def unlabelled_occurrences(self, text: str, entities: list):
        """``(start, end)`` of every labelled surface in ``text`` that overlaps no labelled span."""
        covered = bytearray(len(text))
        for e in entities:
            if e.get("start") is not None:
                covered[e["start"] : e["end"]] = b"\x01" * (e["end"] - e["start"])
        for length in self.lengths:
            for start in range(len(text) - length + 1):
                piece = text[start : start + length]
                if piece in self.types and not any(covered[start : start + length]):
                    yield start, start + length

    def labelled(self, surface: str) -> int:
        return sum(self.types.get(surface, {}).values())

    def type_count(self, surface: str, type_: str) -> int:
        return self.types.get(surface, {}).get(type_, 0)


def ner_checks(rows: list, index: SurfaceIndex, min_labelled: int = 3, min_share: float = 0.75) -> list:
    """Model-free NER suspects. ``rows``: ``(id, text, entities)``. Their scores are the share of
    the other occurrences that disagree with this one; the ranking re-scores them with the model."""
    out = []
    for row_id, text, entities in rows:
        for e in entities:
            start, end, surface = e.get("start"), e.get("end"), e.get("text") or ""
            if start is None or not surface:
                continue
            if is_edge_noise(surface[0]) or is_edge_noise(surface[-1]):
                inner = surface.strip("".join(c for c in surface if is_edge_noise(c)))
                offset = surface.find(inner) if inner else 0
                out.append(suspect(row_id, "boundary", start, end, e["type"], EDGE_SCORE, {"start": start + offset, "end": start + offset + len(inner), "type": e["type"]} if inner else None, "edge"))
            counts = index.types.get(surface)
            if counts:
                others = counts.copy()
                others[e["type"]] -= 1
                total = sum(others.values())
                best, best_count = max(others.items(), key=lambda kv: (kv[1], kv[0]))
                if best != e["type"] and total >= min_labelled and best_count / total >= min_share:
                    out.append(suspect(row_id, "type", start, end, e["type"], best_count / total, {"start": start, "end": end, "type": best}, "consistency", elsewhere=dict(others)))
        for start, end in index.unlabelled_occurrences(text, entities):
            surface = text[start:end]
            labelled = index.labelled(surface)
            unlabelled = index.unlabelled[surface] - 1
            if labelled >= min_labelled and labelled / (labelled + unlabelled) >= min_share:
                best = index.types[surface].most_common(1)[0][0]
                out.append(suspect(row_id, "missing", start, end, None, labelled / (labelled + unlabelled), {"start": start, "end": end, "type": best}, "consistency", labelled_elsewhere=labelled, unlabelled_elsewhere=unlabelled))
    return out


def relation_checks(rows: list, schema: Optional[dict] = None) -> list:
    """RE suspects: off-schema (head type, tail type) pairs and head == tail. ``rows``: ``(id, text, relations)``."""
    if schema is None:
        pairs: dict = defaultdict(Counter)
        for _, _, relations in rows:
            for r in relations:
                pairs[r["type"]][(r["head"].get("type"), r["tail"].get("type"))] += 1
        schema = {rel: {p for p, n in c.items() if n >= SCHEMA_SHARE * sum(c.values())} for rel, c in pairs.items()}
    out = []
    for row_id, _, relations in rows:
        for r in relations:
            head, tail = r["head"], r["tail"]
            pair = (head.get("type"), tail.get("type"))
            allowed = schema.get(r["type"])
            if allowed and None not in pair and pair not in allowed:
                expected = sorted(allowed, key=str)[0]
                out.append(suspect(row_id, "schema", head.get("start"), tail.get("end"), r["type"], SCHEMA_SCORE, {"head_type": expected[0], "tail_type": expected[1]}, "schema", head=head.get("text"), tail=tail.get("text"), types=list(pair)))
            # Same text and type: one mention related to itself. (A drama 改编自 the novel of the same
            # name has the same text but other types, and is right.)
            if head.get("text") and head.get("text") == tail.get("text") and head.get("start") == tail.get("start") and head.get("type") == tail.get("type"):
                out.append(suspect(row_id, "inconsistent", head.get("start"), head.get("end"), r["type"], SAME_SPAN_SCORE, None, "head_is_tail", head=head.get("text")))
    return out


def event_checks(rows: list, roles: Optional[dict] = None) -> list:
    """EE suspects: roles outside the event type's schema, triggers not in the text, duplicate
    events. ``rows``: ``(id, text, events)``; ``roles``: ``{event type: [roles]}`` when known."""
    if not roles:
        seen: dict = defaultdict(Counter)
        for _, _, events in rows:
            for ev in events:
                seen[ev["type"]].update({a["role"] for a in ev["arguments"]})
        # Without a schema, a role is off-schema when it was seen with this event type only once
        # while the type has at least 20 events' worth of roles.
        roles = {t: {r for r, n in c.items() if n > 1 or sum(c.values()) < 20} for t, c in seen.items()}
    # A corpus whose triggers are normalised terms (CHIP-CDEE's core_name) leaves many of them out
    # of the text by design: absent triggers are reported only where they are the exception.
    triggers = [(ev.get("trigger") or {}).get("text") for _, _, events in rows for ev in events]
    absent = sum(1 for (_, text, events) in rows for ev in events if (ev.get("trigger") or {}).get("text") and ev["trigger"]["text"] not in text)
    check_triggers = absent <= ABSENT_TRIGGER_SHARE * max(1, sum(1 for t in triggers if t))
    out = []
    for row_id, text, events in rows:
        keys = Counter()
        for ev in events:
            allowed = roles.get(ev["type"])
            for a in ev["arguments"]:
                if allowed is not None and a["role"] not in allowed:
                    out.append(suspect(row_id, "schema", a.get("start"), a.get("end"), ev["type"], SCHEMA_SCORE, None, "role_schema", role=a["role"], argument=a.get("text")))
            trigger = ev.get("trigger") or {}
            if check_triggers and trigger.get("text") and trigger["text"] not in text:
                out.append(suspect(row_id, "inconsistent", None, None, ev["type"], TRIGGER_SCORE, None, "trigger_not_in_text", trigger=trigger["text"]))
            key = (ev["type"], trigger.get("text"), trigger.get("start"), tuple(sorted((a["role"], a.get("text") or "", a.get("start") or -1) for a in ev["arguments"])))
            keys[key] += 1
            if keys[key] == 2:
                out.append(suspect(row_id, "inconsistent", trigger.get("start"), trigger.get("end"), ev["type"], DUPLICATE_SCORE, None, "duplicate_event", trigger=trigger.get("text")))
    return out
