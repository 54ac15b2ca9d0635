"""CEC — the Chinese Emergency Corpus (中文突发事件语料库, Shanghai University): events and event relations.

332 news reports in five categories, one XML file each: ``CEC/<category>/<title>.xml`` with the
categories 交通事故, 地震, 恐怖袭击, 火灾, 食物中毒. Inline annotation, NO offsets::

    <Body><Title>..</Title><ReportTime type="absTime">..</ReportTime><Content><Paragraph><Sentence>
      text <Event eid="e2"><Participant sid="s2">..</Participant><Time tid="t2" type="relTime">..</Time>
      发布消息<Denoter type="statement" did="d2">称</Denoter></Event>，..</Sentence></Paragraph></Content>
    <eRelation relType="Causal" cause_eid="e4" effect_eid="e5"/>..</Body>

There is no official split: every document is in ``train``.

The text. The document text is the concatenation of the element texts and tails, so whitespace
decides every offset: a run of whitespace holding a newline or TAB is pretty-printing and is
removed wherever it sits (inside elements too); other spaces are content and kept (a title's
``普遍有震感 但不会``). Titles (4 files have two) and paragraphs each end with ``\\n``; sentences
of a paragraph are joined as written; ``ReportTime`` is not part of the text (raw field
``report_time``); the final ``\\n`` is dropped.

Raw view (one row per file, its key the file's first line as in any split of one file per document,
see ``Corpus.files``; ``document`` and ``category`` name it): the text as above, and every ``Event``
element in document order (nested ones too: an ``Event`` may sit inside another or inside an
``Object``; ``parent`` is the enclosing event's eid) with its attributes as written (order and
names vary: ``did`` on a Location, ``sid`` on an Object, reused ids) and its annotation children
(``Denoter``, ``Participant``, ``Object``, ``Time``, ``Location``, ``Means``, tag spelt as in the
file, e.g. lower-case ``participant``), each with its text and its offsets in the document text;
every ``eRelation`` with its attributes as written.

Unified view (task EE):
- Events are untyped in the source (``Event type`` is absent on most, ``thoughtevent`` marks
  reported speech): the event class is the ``Denoter``'s ``type`` (operation, action, stateChange,
  statement, emergency, movement, perception), used as the event type; the ``Denoter`` is the
  trigger. An event without a Denoter, or whose Denoter has no type, gets type ``""`` and the flag
  ``untyped_event`` (no trigger: null span, ``ungrounded_span``); a second Denoter stays in the raw
  view only (``extra_denoter``). ``Event type`` (thoughtevent ...) is kept in the raw view only.
- Arguments: the other children, by tag (case folded, flag ``tag_case_folded`` when a tag was
  lower-case) as Chinese roles: Participant 参与者, Object 对象, Time 时间, Location 地点, Means 方式
  (an unknown tag keeps its name as role, flag ``unknown_tag``).
- An annotation element whose parent is not an Event (none in the samples; kept in the raw field
  ``orphans``): a Denoter becomes an event without arguments, an argument an entity typed by its
  role; flag ``annotation_outside_event``.
- Event relations are relations whose head and tail are the TRIGGERS of the two events
  (``type`` of each = its event type), relation type = ``relType``. Head and tail attributes per
  type: Causal cause→effect, Follow bevent→aevent (before→after), Thoughtcontent
  thoughtevent→thoughtcontent, Accompany a→b, Concurrency a→b, Composite fevent→sevent. An id
  attribute may list several events (``e1,e2``) or a range (``e2-e6`` = the document's events
  numbered 2 to 6): one relation per head×tail pair. A relType with trailing digits
  (``Thoughtcontent6``) is read as its base type (flag ``relation_type_repaired``); an unknown one
  keeps its name and takes its two id attributes in order. An id naming no event gives a relation
  with an empty, null-span end (``ungrounded_span``, ``unknown_event_id``); a range end that is no
  event id is ignored (the range is of events that exist).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, read_document
from chinchilla_datasets.spans import UNGROUNDED

PATTERN = "*/*.xml"  # <category>/<title>.xml
_REPO = "https://github.com/shijiebei2009/CEC-Corpus"
_COMMIT = "3779039d69e1cb0343ebe4364769136aeb13548a"
# GitHub's archive of the repository at that commit (332 files: no list of file URLs); the builder
# reads CEC/<category>/*.xml inside it.
ARCHIVE = f"CEC-Corpus-{_COMMIT}.zip"
# Pretty-printing: a whitespace run holding a newline or a TAB (plain spaces alone are content).
LAYOUT = re.compile(r"[ \t\r\n]*[\t\r\n][ \t\r\n]*")
# Elements whose text is not part of the document text (kept in their own raw fields).
OUTSIDE_TEXT = frozenset({"ReportTime", "eRelation"})
ENDS_WITH_NEWLINE = frozenset({"Title", "Paragraph"})
DENOTER = "Denoter"
ROLES = {"Participant": "参与者", "Object": "对象", "Time": "时间", "Location": "地点", "Means": "方式"}
_CANONICAL_TAG = {tag.lower(): tag for tag in (*ROLES, DENOTER, "Event")}
_ANNOTATION_TAGS = frozenset(tag.lower() for tag in (*ROLES, DENOTER))
# relType -> (head attribute, tail attribute)
RELATION_ENDS = {
    "Causal": ("cause_eid", "effect_eid"),
    "Follow": ("bevent_eid", "aevent_eid"),
    "Thoughtcontent": ("thoughtevent_eid", "thoughtcontent_eids"),
    "Accompany": ("accompanya_eid", "accompanyb_eid"),
    "Concurrency": ("concurrencya_eid", "concurrencyb_eid"),
    "Composite": ("fevent_eid", "sevent_eids"),
}
UNTYPED_EVENT = "untyped_event"
EXTRA_DENOTER = "extra_denoter"
TAG_CASE_FOLDED = "tag_case_folded"
UNKNOWN_TAG = "unknown_tag"
RELATION_TYPE_REPAIRED = "relation_type_repaired"
UNKNOWN_EVENT_ID = "unknown_event_id"
OUTSIDE_EVENT = "annotation_outside_event"

CORPUS = Corpus(
    name="cec",
    task="EE",
    title="CEC (Chinese Emergency Corpus)",
    domain="emergency news",
    homepage=_REPO,
    license="not stated (the repository has no LICENSE file)",
    redistributable=False,
    citation=(
        "@misc{cec2009,\n  title={{CEC}: Chinese Emergency Corpus (中文突发事件语料库)},\n  author={{Semantic "
        "Intelligence Laboratory, Shanghai University}},\n  howpublished={\\url{https://github.com/shijiebei2009/"
        "CEC-Corpus}}\n}"
    ),
    files={"train": (PATTERN,)},
    urls={ARCHIVE: f"{_REPO}/archive/{_COMMIT}.zip"},
    labels={
        "emergency": "突发事件",
        "action": "行为",
        "operation": "操作",
        "movement": "移动",
        "stateChange": "状态变化",
        "statement": "言论",
        "perception": "感知",
    },
    roles={t: list(ROLES.values()) for t in ("emergency", "action", "operation", "movement", "stateChange", "statement", "perception")},
    description=(
        "Events (trigger, participants, objects, time, location, means) and event relations (causal, follow, "
        "accompany, thought content, ...) in 332 Chinese news reports of emergencies, inline XML."
    ),
    quirks=(
        "Inline XML without offsets: pretty-printing whitespace (runs with a newline or TAB) is removed, spaces kept.",
        "Events are untyped: the Denoter's type (operation, action, ...) is the event type; the Denoter is the trigger.",
        "Event relations become relations between the two events' triggers; id ranges like e2-e6 are expanded.",
        "No official split: every document is in train.",
    ),
)

_ATTRIBUTES = datasets.List({"name": datasets.Value("string"), "value": datasets.Value("string")})
_SPAN = {"start": datasets.Value("int32"), "end": datasets.Value("int32")}


def attributes(element) -> list:
    return [{"name": name, "value": value} for name, value in element.attrib.items()]


def attribute(attrs: list, name: str):
    return next((a["value"] for a in attrs if a["name"] == name), None)


def layout_text(root) -> tuple:
    """``(text, spans)``: the document text (see the module docstring) and ``{element: (start, end)}``."""
    pieces, spans, length = [], {}, 0

    def add(piece: str) -> None:
        nonlocal length
        pieces.append(piece)
        length += len(piece)

    def walk(element) -> None:
        start = length
        add(LAYOUT.sub("", element.text or ""))
        for child in element:
            if child.tag not in OUTSIDE_TEXT:
                walk(child)
            add(LAYOUT.sub("", child.tail or ""))
        spans[element] = (start, length)
        if element.tag in ENDS_WITH_NEWLINE:
            add("\n")

    walk(root)
    text = "".join(pieces)
    return text.rstrip("\n"), spans


def document_record(xml: str, document: str, category: str):
    """The raw record of one CEC file's text, or a Reject (XML that does not parse, another root)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as err:
        return Reject(f"line {err.position[0]}: not well-formed XML: {err}")
    if root.tag != "Body":
        return Reject(f"expected a <Body> root element, got <{root.tag}>")
    text, spans = layout_text(root)
    events = []

    def collect(element, parent: str) -> None:
        for child in element:
            if child.tag == "Event":
                start, end = spans[child]
                members = []
                for member in child:
                    if member.tag != "Event":
                        m_start, m_end = spans[member]
                        members.append(
                            {"tag": member.tag, "attributes": attributes(member), "text": text[m_start:m_end], "start": m_start, "end": m_end}
                        )
                events.append(
                    {"attributes": attributes(child), "parent": parent, "text": text[start:end], "start": start, "end": end, "elements": members}
                )
                collect(child, child.get("eid", ""))
            elif child.tag not in OUTSIDE_TEXT:
                collect(child, parent)

    collect(root, "")
    # Annotation elements whose parent is not an Event (inside a Sentence, or inside another
    # annotation): none in the samples, kept rather than lost.
    orphans = []
    for parent in root.iter():
        if parent.tag == "Event" or parent.tag in OUTSIDE_TEXT:
            continue
        for child in parent:
            if child.tag.lower() in _ANNOTATION_TAGS:
                start, end = spans[child]
                orphans.append({"tag": child.tag, "attributes": attributes(child), "text": text[start:end], "start": start, "end": end})
    return {
        "document": document,
        "category": category,
        "titles": [text[slice(*spans[t])] for t in root.iter("Title")],
        "report_time": [{"attributes": attributes(t), "text": LAYOUT.sub("", "".join(t.itertext()))} for t in root.iter("ReportTime")],
        "text": text,
        "events": events,
        "relations": [{"relType": r.get("relType", ""), "attributes": attributes(r)} for r in root.iter("eRelation")],
        "orphans": orphans,
    }


def event_ids(value: str, known: dict) -> list:
    """The eids an id attribute names: ``e3``, ``e1,e2`` or the range ``e2-e6`` (the events of the
    document numbered 2 to 6, in number order)."""
    out = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        bounds = re.fullmatch(r"e(\d+)\s*-\s*e?(\d+)", item)
        if bounds:
            low, high = int(bounds[1]), int(bounds[2])
            out += [f"e{n}" for n in range(low, high + 1) if f"e{n}" in known]
        else:
            out.append(item)
    return out


def relation_ends(rel_type: str, attrs: list, flags: list) -> tuple:
    """``(type, head attribute value, tail attribute value)`` of a raw eRelation."""
    base = re.sub(r"\d+$", "", rel_type)
    if rel_type not in RELATION_ENDS and base in RELATION_ENDS:
        _flag(flags, RELATION_TYPE_REPAIRED)
        rel_type = base
    if rel_type in RELATION_ENDS:
        head, tail = RELATION_ENDS[rel_type]
        return rel_type, attribute(attrs, head) or "", attribute(attrs, tail) or ""
    ids = [a["value"] for a in attrs if a["name"].endswith(("_eid", "_eids"))] + ["", ""]
    return rel_type, ids[0], ids[1]


def _flag(flags: list, flag: str) -> None:
    if flag not in flags:
        flags.append(flag)


def to_unified_record(raw: dict) -> dict:
    flags, events, triggers = [], [], {}
    for event in raw["events"]:
        denoters = [m for m in event["elements"] if _CANONICAL_TAG.get(m["tag"].lower()) == DENOTER]
        arguments = []
        for member in event["elements"]:
            tag = _CANONICAL_TAG.get(member["tag"].lower(), member["tag"])
            if tag != member["tag"]:
                _flag(flags, TAG_CASE_FOLDED)
            if tag == DENOTER:
                continue
            if tag not in ROLES:
                _flag(flags, UNKNOWN_TAG)
            arguments.append({"role": ROLES.get(tag, tag), "text": member["text"], "start": member["start"], "end": member["end"]})
        if denoters:
            denoter = denoters[0]
            trigger = {"text": denoter["text"], "start": denoter["start"], "end": denoter["end"]}
            event_type = attribute(denoter["attributes"], "type") or ""
        else:
            trigger, event_type = {"text": "", "start": None, "end": None}, ""
            _flag(flags, UNGROUNDED)
        if not event_type:
            _flag(flags, UNTYPED_EVENT)
        if len(denoters) > 1:
            _flag(flags, EXTRA_DENOTER)
        events.append({"type": event_type, "trigger": trigger, "arguments": arguments})
        eid = attribute(event["attributes"], "eid")
        if eid is not None:
            triggers.setdefault(eid, {"type": event_type, **trigger})
    relations = []
    for relation in raw["relations"]:
        rel_type, heads, tails = relation_ends(relation["relType"], relation["attributes"], flags)
        for head in event_ids(heads, triggers) or [""]:
            for tail in event_ids(tails, triggers) or [""]:
                ends = []
                for eid in (head, tail):
                    if eid not in triggers:
                        _flag(flags, UNGROUNDED)
                        _flag(flags, UNKNOWN_EVENT_ID)
                    ends.append(dict(triggers.get(eid) or {"type": "", "text": "", "start": None, "end": None}))
                relations.append({"type": rel_type, "head": ends[0], "tail": ends[1], "qualifiers": []})
    entities = []
    for orphan in raw["orphans"]:
        _flag(flags, OUTSIDE_EVENT)
        tag = _CANONICAL_TAG[orphan["tag"].lower()]
        if tag == DENOTER:  # a trigger without its Event: an event without arguments
            trigger = {"text": orphan["text"], "start": orphan["start"], "end": orphan["end"]}
            events.append({"type": attribute(orphan["attributes"], "type") or "", "trigger": trigger, "arguments": []})
        else:  # an argument without its Event: an entity typed by its role
            entities.append({"type": ROLES[tag], "text": orphan["text"], "start": orphan["start"], "end": orphan["end"]})
    return unified_record(raw["text"], entities=entities, events=events, relations=relations, flags=flags)


class CEC(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "document": datasets.Value("string"),  # the file name (the news title)
            "category": datasets.Value("string"),  # its folder
            "titles": datasets.List(datasets.Value("string")),
            "report_time": datasets.List({"attributes": _ATTRIBUTES, "text": datasets.Value("string")}),
            "text": datasets.Value("string"),
            "events": datasets.List(
                {
                    "attributes": _ATTRIBUTES,
                    "parent": datasets.Value("string"),  # eid of the enclosing event, "" at top level
                    "text": datasets.Value("string"),
                    **_SPAN,
                    "elements": datasets.List(
                        {"tag": datasets.Value("string"), "attributes": _ATTRIBUTES, "text": datasets.Value("string"), **_SPAN}
                    ),
                }
            ),
            "relations": datasets.List({"relType": datasets.Value("string"), "attributes": _ATTRIBUTES}),
            # Denoter/Participant/... elements whose parent is not an Event, in document order.
            "orphans": datasets.List(
                {"tag": datasets.Value("string"), "attributes": _ATTRIBUTES, "text": datasets.Value("string"), **_SPAN}
            ),
        }
    )

    def read(self, path, split):
        parts = path.replace("\\", "/").split("/")
        xml = read_document(path)
        if isinstance(xml, Reject):
            yield 1, xml
            return
        yield 1, document_record(xml, parts[-1], parts[-2] if len(parts) > 1 else "")

    def to_unified(self, raw):
        return to_unified_record(raw)
