"""DuEE-style event records (DuEE, DuEE-fin, IREE) as unified events, written once.

Baidu's event corpora share one JSON Lines record: ``{"text", "id", "event_list": [{"event_type",
"trigger", "arguments": [{"role", "argument"}]}]}``. Sentence-level DuEE adds character offsets
(``trigger_start_index``, ``argument_start_index``); document-level DuEE-fin has none and a
``title`` the annotators read too. :func:`unified_events` converts an ``event_list`` given a
``locate(mention, source_start)`` function that decides how mentions are grounded;
:func:`title_body_text` builds the ``title + "\\n" + body`` text of the document-level corpora with
its locator (body first, then title, flag ``grounded_in_title``).
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from .spans import ground

GROUNDED_IN_TITLE = "grounded_in_title"
# Keys every DuEE-style record has; a line without them is some other format.
RECORD_KEYS = ("text",)
EVENT_KEYS = ("event_type", "trigger", "arguments")

Locate = Callable[[str, Optional[int]], tuple]


def unified_events(event_list: Optional[Iterable[dict]], locate: Locate) -> list:
    """Unified events of a DuEE-style ``event_list`` (None: no events). ``locate(mention, start)``
    returns ``(start, end)`` for a trigger or argument; ``start`` is the source offset or None."""
    events = []
    for event in event_list or []:
        start, end = locate(event["trigger"], event.get("trigger_start_index"))
        arguments = []
        for arg in event["arguments"] or []:
            a_start, a_end = locate(arg["argument"], arg.get("argument_start_index"))
            arguments.append({"role": arg["role"], "text": arg["argument"], "start": a_start, "end": a_end})
        events.append(
            {"type": event["event_type"], "trigger": {"text": event["trigger"], "start": start, "end": end}, "arguments": arguments}
        )
    return events


def offset_locator(text: str, flags: list) -> Locate:
    """Ground in ``text``, keeping a source offset that points at the mention (DuEE)."""
    return lambda mention, start: ground(text, mention, start, flags)


def title_body_text(title: Optional[str], body: str, flags: list) -> tuple:
    """``(text, locate)`` of a titled document: the text is ``title + "\\n" + body`` (the body alone
    without a title); mentions are grounded at their first occurrence in the body, else in the title
    (flag ``grounded_in_title``). Source offsets, if any, index the body."""
    text = f"{title}\n{body}" if title else body
    offset = len(text) - len(body)

    def locate(mention: str, source_start: Optional[int] = None) -> tuple:
        local: list = []
        start, end = ground(body, mention, source_start, local)
        if start is not None:
            flags.extend(f for f in local if f not in flags)
            return start + offset, end + offset
        if not title:
            flags.extend(f for f in local if f not in flags)
            return None, None
        start, end = ground(title, mention, None, flags)
        if start is not None and GROUNDED_IN_TITLE not in flags:
            flags.append(GROUNDED_IN_TITLE)
        return start, end

    return text, locate


def not_event_record(record: dict, other_keys: Iterable[str] = ("id", "title")) -> Optional[str]:
    """Why ``record`` is not a DuEE-style event record, or None when it is one. A record without
    ``event_list`` (no events, or an unlabelled split) may hold only ``text`` and ``other_keys``, so
    other formats (DuIE ``spo_list``, CLUENER ``label``, a schema line) are caught with a reason
    naming the keys found."""
    keys = sorted(record)
    if not isinstance(record.get("text"), str):
        return f"not a DuEE-style event record: keys found {keys}"
    events = record.get("event_list")
    if events is None:
        unknown = [k for k in keys if k not in RECORD_KEYS and k not in other_keys and k != "event_list"]
        return f"not a DuEE-style event record: keys found {keys}" if unknown else None
    if not isinstance(events, list):
        return f"not a DuEE-style event record: event_list is a {type(events).__name__}, not a list"
    for i, event in enumerate(events):
        if not isinstance(event, dict) or any(k not in event for k in EVENT_KEYS):
            found = sorted(event) if isinstance(event, dict) else type(event).__name__
            return f"not a DuEE-style event: event_list[{i}] keys found {found}, expected {list(EVENT_KEYS)}"
    return None
