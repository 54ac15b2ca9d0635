"""Chinese Literature NER+RE (Xu et al. 2017) — document-level entities, relations and coreference in Chinese prose (brat).

``relation_extraction/{Training,Validation,Testing}/<n>.txt`` + ``<n>.ann``: one essay per pair
(695 / 58 / 84), brat standoff annotation of the ``.txt`` (character offsets, end exclusive,
``\\n`` counted as one character). A record is a document: the ``.ann`` file with its ``.txt``
beside it; its key (line) is the ``.ann``'s first line counted as if the split's ``.ann`` files
were one file read in the order of their numbers (the rule of every split of one file per
document, see ``Corpus.files``); rejections name the ``.ann`` and the line inside it.

``.ann`` lines: ``T1\\tPerson-Nominal 10 17\\t我的许多花友们`` (entity), ``R1\\tSocial Arg1:T1
Arg2:T2\\t`` (relation), ``*\\tCoreference T5 T4 T8`` (an unnumbered equivalence set). Entity
types are TYPE-SUBTYPE (Person/Location/Organization/Thing x Name/Nominal/Pronoun,
Time-Explicit/Implicit, Abstract, Metric, Physical, Term); nine relation types, plus two R lines
typed ``Coreference``. Any other line rejects its document, with the line.

Quirks, each kept and flagged:
- A mention that crosses a line break is written over two ``.ann`` lines (the second starts with
  neither ``T``, ``R`` nor ``*``): the lines are joined with ``\\n``, as in the text.
- DISCONTINUOUS entities (``T7\\tPerson-Name 1523 1524;1525 1547\\t...``, mention = fragments joined
  by a space): almost always a mention brat split at a line break. When every gap between the
  fragments is whitespace, the unified span runs from the first fragment's start to the last one's
  end (the text's slice, line break included; flag ``spans_line_break``); otherwise the span is the
  first fragment (flag ``discontinuous_entity``). The raw view keeps every fragment.
- Offsets that do not slice to the mention (1945 / 6 / 15 entities in the full splits): when the
  slice has the mention's length and differs only in punctuation (the ``.ann`` has ``・`` or ``;``
  where the ``.txt`` has ``、``, ``&quot;`` in the text) the offsets are right: kept, the unified
  text is the slice (flag ``mention_text_differs``). Otherwise (documents shifted wholesale) the
  mention is searched for: its only occurrence is taken (``offset_corrected``), several or none
  give a null span (``ungrounded_span``, plus ``ambiguous_span`` for several); a fragmented mention
  is first searched for as its fragments separated by whitespace (a line break).
- Coreference: kept in the raw view as sets; in the unified view each set becomes relations of type
  ``Coreference`` between consecutive members in the listed order (a set of n mentions, n - 1
  relations; the two R lines typed Coreference stay as they are). A relation or set naming an
  entity id the document lacks gets an empty, null-span end (``ungrounded_span``,
  ``unknown_entity_id``).
- Entities nest and overlap (``我`` inside ``我的许多花友们``): all kept.

SanWen (``sanwen``, already in Chinchilla) is the sentence-level relation extraction derivative of
the same corpus (thunlp/Chinese_NRE: one entity pair per line, numbers replaced by ``<N>``, no
offsets or types): the same relations appear in both, so texts and relations overlap across the
two corpora. Both are kept; the build's ``cross_corpus_duplicate`` flag marks only identical texts,
which a sentence and a document rarely are, so do not mix the two for evaluation.
"""

from __future__ import annotations

import os
import re
import unicodedata

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, read_document
from chinchilla_datasets.spans import OFFSET_CORRECTED, UNGROUNDED, span_at

_REPO = "https://github.com/lancopku/Chinese-Literature-NER-RE-Dataset"
_COMMIT = "021b3c1c6a1449634ecb2bf9c4ac17f2c5c870dd"
# GitHub's archive of the repository at that commit (the brat documents are ~1,700 files: no list of
# file URLs); the builder looks inside it. Shared with chinese_literature_ner (the ner/ folder).
ARCHIVE = f"Chinese-Literature-NER-RE-Dataset-{_COMMIT}.zip"
ARCHIVE_URLS = {ARCHIVE: f"{_REPO}/archive/{_COMMIT}.zip"}
COREFERENCE = "Coreference"
SPANS_LINE_BREAK = "spans_line_break"
DISCONTINUOUS = "discontinuous_entity"
MENTION_TEXT_DIFFERS = "mention_text_differs"
UNKNOWN_ENTITY_ID = "unknown_entity_id"

_ENTITY_LINE = re.compile(r"(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)")
_RELATION_LINE = re.compile(r"(R\d+)\t(\S+) Arg1:(T\d+) Arg2:(T\d+)\t?(.*)")
_COREFERENCE_LINE = re.compile(r"\*\t(\S+)((?: T\d+)+)\s*")

CORPUS = Corpus(
    name="chinese_literature",
    task="RE",
    title="Chinese Literature NER+RE",
    domain="literature (Chinese prose essays)",
    homepage=_REPO,
    license="not stated (the repository has no LICENSE file)",
    redistributable=False,
    citation=(
        "@article{xu2017discourse,\n  title={A Discourse-Level Named Entity Recognition and Relation Extraction "
        "Dataset for Chinese Literature Text},\n  author={Xu, Jingjing and Wen, Ji and Sun, Xu and Su, Qi},\n"
        "  journal={arXiv preprint arXiv:1711.07010},\n  year={2017}\n}"
    ),
    files={"train": ("Training/*.ann",), "validation": ("Validation/*.ann",), "test": ("Testing/*.ann",)},
    urls=ARCHIVE_URLS,
    labels={
        "Located": "位于",
        "Part-Whole": "部分整体",
        "Family": "亲属",
        "General-Special": "上下位",
        "Social": "社交",
        "Ownership": "拥有",
        "Use": "使用",
        "Create": "创作",
        "Near": "邻近",
        COREFERENCE: "共指",
    },
    description=(
        "Document-level entities (typed, nested), relations (nine types) and coreference in Chinese prose essays, "
        "brat standoff (train 695, validation 58, test 84 documents)."
    ),
    quirks=(
        "Mentions crossing a line break are split over two .ann lines or into fragments: joined (flag spans_line_break).",
        "Truly discontinuous entities: the first fragment is the unified span (flag discontinuous_entity); raw keeps all.",
        "Offsets that do not slice to the mention: kept when only punctuation differs (mention_text_differs), else "
        "re-grounded when the mention occurs once (offset_corrected), else null (ungrounded_span).",
        "Coreference sets become Coreference relations between consecutive members.",
        "SanWen is the sentence-level RE derivative of this corpus: the two overlap.",
    ),
)

_FRAGMENTS = datasets.List({"start": datasets.Value("int32"), "end": datasets.Value("int32")})


def parse_ann(ann: str):
    """``{"entities", "relations", "coreferences"}`` of a brat ``.ann`` text, or ``(line_no, Reject)``
    for its first line that is none of T, R, ``*`` or the continuation of a T line's mention."""
    entities, relations, coreferences = [], [], []
    previous = None  # the last line read, when a T line (its mention may go on)
    for line_no, line in enumerate(ann.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            previous = None
            continue
        entity, relation, coreference = _ENTITY_LINE.fullmatch(line), _RELATION_LINE.fullmatch(line), _COREFERENCE_LINE.fullmatch(line)
        if entity:
            fragments = [dict(zip(("start", "end"), map(int, pair.split()))) for pair in entity[3].split(";")]
            previous = {"id": entity[1], "type": entity[2], "fragments": fragments, "mention": entity[4]}
            entities.append(previous)
        elif relation:
            relations.append({"id": relation[1], "type": relation[2], "arg1": relation[3], "arg2": relation[4]})
            previous = None
        elif coreference:
            coreferences.append({"type": coreference[1], "members": coreference[2].split()})
            previous = None
        elif previous is not None and not re.match(r"(T\d+|R\d+|\*)\t", line):
            previous["mention"] += "\n" + line  # a mention crossing a line break
        else:
            return line_no, Reject(f"line {line_no}: not a brat T, R or * line: {line!r:.60}")
    return {"entities": entities, "relations": relations, "coreferences": coreferences}


def only_punctuation_differs(a: str, b: str) -> bool:
    """Same length, and every position where they differ holds punctuation, a symbol or a space in both."""
    if len(a) != len(b):
        return False

    def loose(ch: str) -> bool:
        return ch.isspace() or unicodedata.category(ch)[0] in "PS"

    return all(x == y or (loose(x) and loose(y)) for x, y in zip(a, b))


def entity_span(text: str, item: dict, flags: list) -> dict:
    """The unified entity of a raw brat entity (see the module docstring for the rules)."""
    fragments = [(f["start"], f["end"]) for f in item["fragments"]]
    mention = item["mention"]
    if all(0 <= s <= e <= len(text) for s, e in fragments):
        gaps = [text[e:s] for (_, e), (s, _) in zip(fragments, fragments[1:])]
        joined = " ".join(text[s:e] for s, e in fragments)
        if len(fragments) == 1 or all(gap.strip() == "" and gap for gap in gaps):
            start, end = fragments[0][0], fragments[-1][1]
            found = text[start:end]
            if joined == mention or (len(fragments) == 1 and found == mention):
                if len(fragments) > 1:
                    _flag(flags, SPANS_LINE_BREAK)
                return _entity(item["type"], text, start, end)
            if only_punctuation_differs(joined, mention):
                _flag(flags, MENTION_TEXT_DIFFERS)
                if len(fragments) > 1:
                    _flag(flags, SPANS_LINE_BREAK)
                return _entity(item["type"], text, start, end)
        elif joined == mention or only_punctuation_differs(joined, mention):
            _flag(flags, DISCONTINUOUS)
            if joined != mention:
                _flag(flags, MENTION_TEXT_DIFFERS)
            return _entity(item["type"], text, *fragments[0])
    # Offsets that do not fit: the mention is searched for. A fragmented one first as its fragments
    # across line breaks, then as its first fragment's text.
    if len(fragments) > 1:
        parts = mention.split(" ")
        found = list(re.finditer(r"\s+".join(map(re.escape, parts)), text)) if all(parts) else []
        if len(found) == 1:
            _flag(flags, OFFSET_CORRECTED)
            _flag(flags, SPANS_LINE_BREAK)
            return _entity(item["type"], text, *found[0].span())
        _flag(flags, DISCONTINUOUS)
        mention = parts[0]
    start, end = span_at(text, mention, fragments[0][0], fragments[0][0] + len(mention), flags)
    return {"type": item["type"], "text": mention, "start": start, "end": end}


def _entity(type_: str, text: str, start: int, end: int) -> dict:
    return {"type": type_, "text": text[start:end], "start": start, "end": end}


def _flag(flags: list, flag: str) -> None:
    if flag not in flags:
        flags.append(flag)


def to_unified_record(raw: dict) -> dict:
    text, flags = raw["text"], []
    entities = [entity_span(text, item, flags) for item in raw["entities"]]
    by_id = {}
    for item, entity in zip(raw["entities"], entities):
        by_id.setdefault(item["id"], entity)

    def end_of(entity_id: str) -> dict:
        if entity_id not in by_id:
            _flag(flags, UNGROUNDED)
            _flag(flags, UNKNOWN_ENTITY_ID)
            return {"type": "", "text": "", "start": None, "end": None}
        return dict(by_id[entity_id])

    relations = [
        {"type": r["type"], "head": end_of(r["arg1"]), "tail": end_of(r["arg2"]), "qualifiers": []} for r in raw["relations"]
    ]
    for chain in raw["coreferences"]:
        for head, tail in zip(chain["members"], chain["members"][1:]):
            relations.append({"type": chain["type"], "head": end_of(head), "tail": end_of(tail), "qualifiers": []})
    return unified_record(text, entities=entities, relations=relations, flags=flags)


class ChineseLiterature(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "document": datasets.Value("string"),  # the file stem: <n> of <n>.txt / <n>.ann
            "text": datasets.Value("string"),
            "entities": datasets.List(
                {"id": datasets.Value("string"), "type": datasets.Value("string"), "fragments": _FRAGMENTS, "mention": datasets.Value("string")}
            ),
            "relations": datasets.List(
                {"id": datasets.Value("string"), "type": datasets.Value("string"), "arg1": datasets.Value("string"), "arg2": datasets.Value("string")}
            ),
            # brat equivalence sets (``*`` lines): type (Coreference) and member entity ids, as listed.
            "coreferences": datasets.List({"type": datasets.Value("string"), "members": datasets.List(datasets.Value("string"))}),
        }
    )

    def read(self, path, split):
        stem = os.path.splitext(os.path.basename(path))[0]
        txt_path = os.path.splitext(path)[0] + ".txt"
        if not os.path.isfile(txt_path):
            yield 1, Reject(f"no {stem}.txt beside {stem}.ann")
            return
        text, ann = read_document(txt_path), read_document(path)
        if isinstance(text, Reject):
            yield 1, Reject(f"{stem}.txt {text.reason}")
            return
        if isinstance(ann, Reject):
            yield 1, ann
            return
        parsed = parse_ann(ann)
        if isinstance(parsed, tuple):
            yield parsed
            return
        yield 1, {"document": stem, "text": text, **parsed}

    def to_unified(self, raw):
        return to_unified_record(raw)
