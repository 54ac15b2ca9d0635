"""Grounding mentions to character offsets, once for every corpus.

Sources either give an offset (DuEE, CLUENER, tagged corpora) or only the mention
string (DuIE, DuEE-fin, SanWen, FinRE). A source offset is kept when it points at the
mention; otherwise the mention's first occurrence is used and the record is flagged
(``ambiguous_span`` when it occurs several times, ``ungrounded_span`` when it does
not occur at all and the span keeps null offsets). :func:`span_at` is stricter with source
offsets that do not slice to their mention: it re-grounds only a mention that occurs once.
"""

from __future__ import annotations

from typing import Optional

AMBIGUOUS = "ambiguous_span"
UNGROUNDED = "ungrounded_span"
OFFSET_CORRECTED = "offset_corrected"
# Flags of machine-translated records (``chinchilla translate``): a span found by searching the
# translation of its mention alone; a span left with null offsets; a record whose translation failed.
PROJECTED_BY_SEARCH = "projected_by_search"
PROJECTION_FAILED = "projection_failed"
TRANSLATION_FAILED = "translation_failed"


def ground(text: str, mention: str, start: Optional[int] = None, flags: Optional[list] = None) -> tuple:
    """Return ``(start, end)`` of ``mention`` in ``text`` (end exclusive), or ``(None, None)``.

    ``start`` is the source's offset if it has one. Flags explaining a guess are appended
    to ``flags`` (each flag once).
    """
    if not mention:
        _flag(flags, UNGROUNDED)
        return None, None
    if start is not None and 0 <= start and text[start : start + len(mention)] == mention:
        return start, start + len(mention)
    found = text.find(mention)
    if found < 0:
        _flag(flags, UNGROUNDED)
        return None, None
    if start is not None:
        _flag(flags, OFFSET_CORRECTED)
    elif text.find(mention, found + 1) >= 0:
        _flag(flags, AMBIGUOUS)
    return found, found + len(mention)


def span_at(text: str, mention: str, start, end, flags: Optional[list] = None) -> tuple:
    """``(start, end)`` of a mention the source places at ``[start, end)`` (convert inclusive or
    1-based offsets before calling). The source's offsets are kept when they slice to the mention.
    Otherwise (offsets wrong, out of range or missing) the mention is searched for: its only
    occurrence is taken (flag ``offset_corrected``); when it occurs several times no occurrence can
    be preferred, so the span is null (flags ``ungrounded_span`` and ``ambiguous_span``), as it is
    when the mention does not occur (``ungrounded_span``)."""
    if (
        mention
        and isinstance(start, int)
        and isinstance(end, int)
        and 0 <= start <= end <= len(text)
        and text[start:end] == mention
    ):
        return start, end
    found = text.find(mention) if mention else -1
    if found < 0:
        _flag(flags, UNGROUNDED)
        return None, None
    if text.find(mention, found + 1) >= 0:
        _flag(flags, UNGROUNDED)
        _flag(flags, AMBIGUOUS)
        return None, None
    _flag(flags, OFFSET_CORRECTED)
    return found, found + len(mention)


def ground_near(text: str, mention: str, anchor: Optional[int], flags: Optional[list] = None) -> tuple:
    """Like :func:`ground` without a source offset, but of several occurrences the one nearest to
    ``anchor`` (e.g. its event's trigger) is taken, still flagged ``ambiguous_span``: a value such
    as 正常 recurs in a sentence, once for each finding it describes."""
    if anchor is None:
        return ground(text, mention, None, flags)
    found = text.find(mention) if mention else -1
    if found < 0:
        _flag(flags, UNGROUNDED)
        return None, None
    best, at = found, text.find(mention, found + 1)
    if at >= 0:
        _flag(flags, AMBIGUOUS)
    while at >= 0:
        if abs(at - anchor) < abs(best - anchor):
            best = at
        at = text.find(mention, at + 1)
    return best, best + len(mention)


def _flag(flags: Optional[list], flag: str) -> None:
    if flags is not None and flag not in flags:
        flags.append(flag)


def entity(text: str, type_: str, mention: str, start: Optional[int] = None, flags: Optional[list] = None) -> dict:
    s, e = ground(text, mention, start, flags)
    return {"type": type_, "text": mention, "start": s, "end": e}


def decode_tags(tags: list) -> list:
    """Decode BIO / BIOES / BMES tag sequences into ``(type, start, end)`` spans (end exclusive).

    ``B-`` opens, ``I-``/``M-`` continue, ``E-`` closes, ``S-`` is a one-token span. An ``I-``/``M-``/``E-``
    without an open span of the same type starts a new one (the usual lenient decoding).
    """
    spans = []
    cur_type, cur_start = None, None
    for i, tag in enumerate(tags):
        if tag in ("O", "o", "") or "-" not in tag:
            if cur_type is not None:
                spans.append((cur_type, cur_start, i))
            cur_type = None
            continue
        prefix, _, label = tag.partition("-")
        prefix = prefix.upper()
        if prefix == "S":
            if cur_type is not None:
                spans.append((cur_type, cur_start, i))
            spans.append((label, i, i + 1))
            cur_type = None
        elif prefix == "B" or cur_type != label:
            if cur_type is not None:
                spans.append((cur_type, cur_start, i))
            cur_type, cur_start = label, i
            if prefix == "E":
                spans.append((label, i, i + 1))
                cur_type = None
        elif prefix == "E":
            spans.append((cur_type, cur_start, i + 1))
            cur_type = None
        # I-/M- of the open type: continue
    if cur_type is not None:
        spans.append((cur_type, cur_start, len(tags)))
    return spans
