"""CASIE — cybersecurity event extraction from English news articles (Satyapanich, Ferraro & Finin, AAAI 2020).

An English source of the translation stage (``chinchilla translate``): its own configs use the
English instruction templates and it is not part of the Chinese mixtures (``all_*``).

The repository's ``data/annotation/<id>.json`` holds one article each: ``sourcefile``, ``info``
{title, date, type, link}, ``content`` (the article on one line) and ``cyberevent.hopper[]``
(coreference clusters of events) -> ``events[]`` {``nugget`` (the trigger: text, startOffset,
endOffset), ``type`` (Attack / Vulnerability-related), ``subtype`` (Databreach, Phishing, Ransom,
DiscoverVulnerability, PatchVulnerability), ``realis``, ``argument[]`` {text, offsets, ``role.type``,
entity ``type``, optional ``external_reference``}}. Offsets are Python ``str`` offsets into
``content``, end exclusive. ``data/source/<id>.txt`` (the scraped article with ``<title>`` lines)
is not read: the offsets index ``content``, which is the unified text as is (NBSPs, a trailing
literal ``</text>`` in two files, included).

One record per annotation file, its raw view the file's object plus ``id`` (the file's numeric
name). The unified view has one event per CASIE event (type = subtype; hoppers are flattened, the
raw view keeps them); argument entity types stay in the raw view. Quirks handled:

* shifted offsets: in some documents every span sits one or two characters before its offsets.
  A span whose offsets do not slice to its text is re-grounded: the same text one or two
  characters away, else its occurrence nearest to the offsets (``ambiguous_span`` as well when it
  occurs several times), flag ``offset_corrected``; a text not in ``content`` keeps null offsets,
  flag ``ungrounded_span``. The mention's text is always ``content[start:end]``.
* non-breaking spaces (U+00A0) in ``content`` and in mentions: texts are compared with NBSP read
  as a space; a span found only that way is flagged ``normalised_space``.
* truncated spans (``gain admin privilege``): a span that starts or ends inside a word is kept as
  annotated and flagged ``span_inside_word``.

There is NO official split: documents go to train/validation/test by their numeric id,
``id % 10`` 0-7 / 8 / 9 (8:1:1, independent of which documents are present). A file whose name is
not a number, or that is not a JSON object, is rejected with the reason; its report line is the
document id (0 for a name that is not a number).
"""

from __future__ import annotations

import os

import datasets
import orjson

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, sniff_encoding
from chinchilla_datasets.spans import AMBIGUOUS, OFFSET_CORRECTED, UNGROUNDED

ANNOTATION_DIR = "annotation"
NORMALISED_SPACE = "normalised_space"
SPAN_INSIDE_WORD = "span_inside_word"
NBSP = "\u00a0"
MAX_SHIFT = 2  # the documented shifts are one or two characters
_REPO = "https://github.com/Ebiquity/CASIE/archive/2c8beef56d48e8de6599891c6a5e0e5f0d82e20c.zip"

# Argument roles of each event subtype (Satyapanich et al. 2020, table 1): 26 roles in all.
ROLES = {
    "Databreach": ["Attacker", "Attack-Pattern", "Compromised-Data", "Damage-Amount", "Number-of-Data",
                   "Number-of-Victim", "Place", "Purpose", "Time", "Tool", "Victim"],
    "Phishing": ["Attacker", "Attack-Pattern", "Damage-Amount", "Place", "Purpose", "Time", "Tool",
                 "Trusted-Entity", "Victim"],
    "Ransom": ["Attacker", "Attack-Pattern", "Damage-Amount", "Payment-Method", "Place", "Price", "Time",
               "Tool", "Victim"],
    "DiscoverVulnerability": ["CVE", "Capabilities", "Discoverer", "Supported_Platform", "Time", "Vulnerability",
                              "Vulnerable_System", "Vulnerable_System_Owner", "Vulnerable_System_Version"],
    "PatchVulnerability": ["CVE", "Issues-Addressed", "Patch", "Patch-Number", "Releaser", "Supported_Platform",
                           "Time", "Vulnerability", "Vulnerable_System", "Vulnerable_System_Version"],
}

# Chinese names of the roles, which the translated corpus (``casie_zh``) uses in their place.
ROLES_ZH = {
    "Attacker": "攻击者", "Attack-Pattern": "攻击方式", "Compromised-Data": "泄露数据", "Damage-Amount": "损失金额",
    "Number-of-Data": "数据数量", "Number-of-Victim": "受害者数量", "Place": "地点", "Purpose": "目的", "Time": "时间",
    "Tool": "工具", "Victim": "受害者", "Trusted-Entity": "冒充的可信实体", "Payment-Method": "支付方式", "Price": "赎金",
    "CVE": "CVE编号", "Capabilities": "漏洞能力", "Discoverer": "发现者", "Supported_Platform": "受影响平台",
    "Vulnerability": "漏洞", "Vulnerable_System": "受影响系统", "Vulnerable_System_Owner": "受影响系统所有者",
    "Vulnerable_System_Version": "受影响系统版本", "Issues-Addressed": "修复的问题", "Patch": "补丁",
    "Patch-Number": "补丁编号", "Releaser": "发布者",
}

CORPUS = Corpus(
    name="casie",
    task="EE",
    title="CASIE cybersecurity events",
    domain="cybersecurity news, English",
    homepage="https://github.com/Ebiquity/CASIE",
    license="not stated (the repository has no licence file; its README asks users to cite the papers)",
    # No stated licence: not republished by default (like the Chinese corpora without one).
    redistributable=False,
    citation=(
        "@inproceedings{satyapanich2020casie,\n  title={{CASIE}: Extracting Cybersecurity Event Information "
        "from Text},\n  author={Satyapanich, Taneeya and Ferraro, Francis and Finin, Tim},\n  booktitle="
        "{Proceedings of the AAAI Conference on Artificial Intelligence},\n  volume={34},\n  number={05},\n  "
        "pages={8749--8757},\n  year={2020}\n}"
    ),
    files={split: (ANNOTATION_DIR,) for split in ("train", "validation", "test")},
    urls={"CASIE.zip": _REPO},
    language="en",
    labels={
        "Databreach": "data breach",
        "Phishing": "phishing",
        "Ransom": "ransom",
        "DiscoverVulnerability": "discover vulnerability",
        "PatchVulnerability": "patch vulnerability",
    },
    labels_zh={
        "Databreach": "数据泄露",
        "Phishing": "网络钓鱼",
        "Ransom": "勒索",
        "DiscoverVulnerability": "发现漏洞",
        "PatchVulnerability": "修补漏洞",
    },
    roles_zh=ROLES_ZH,
    description="Five cybersecurity event types with triggers and 26 argument roles in English news articles "
    "(English source of the translation stage); split 8:1:1 by document id here.",
    quirks=(
        "Folder of one annotation/<id>.json per article; text = its content as is.",
        "No official split: documents go to train/validation/test by id % 10 (0-7 / 8 / 9).",
        "Offsets shifted by one or two characters in some documents: re-grounded, flag offset_corrected.",
        "NBSP in content and mentions: compared as spaces (flag normalised_space when that mattered).",
        "Some spans are truncated inside a word: kept, flag span_inside_word.",
    ),
)

_string = datasets.Value("string")
_offset = datasets.Value("int32")
_mention = {"text": _string, "startOffset": _offset, "endOffset": _offset, "index": _string}


def document_split(doc_id: int) -> str:
    """The split of a document by its numeric id (8:1:1 by ``id % 10``)."""
    rest = doc_id % 10
    return "train" if rest < 8 else "validation" if rest == 8 else "test"


def _flag(flags: list, flag: str) -> None:
    if flag not in flags:
        flags.append(flag)


def _spaces(text: str) -> str:
    return text.replace(NBSP, " ")  # same length: offsets into one are offsets into the other


def ground_mention(content: str, text: str, start, end, flags: list, plain_content: str = None) -> dict:
    """``{"text", "start", "end"}`` of an annotated mention in ``content``: the source offsets when
    they slice to ``text``; else re-grounded and flagged (see the module docstring). ``text`` of the
    result is always ``content[start:end]`` (or the annotated text when ungrounded)."""
    plain_content = _spaces(content) if plain_content is None else plain_content
    plain = _spaces(text)
    if not text.strip():
        _flag(flags, UNGROUNDED)
        return {"text": text, "start": None, "end": None}
    found = None
    if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(content):
        if plain_content[start:end] == plain:
            found = start
    if found is None and isinstance(start, int):
        for shift in (d for step in range(1, MAX_SHIFT + 1) for d in (-step, step)):
            at = start + shift
            if 0 <= at and plain_content[at : at + len(text)] == plain:
                found = at
                _flag(flags, OFFSET_CORRECTED)
                break
    if found is None:
        occurrences = []
        at = plain_content.find(plain)
        while at >= 0:
            occurrences.append(at)
            at = plain_content.find(plain, at + 1)
        if not occurrences:
            _flag(flags, UNGROUNDED)
            return {"text": text, "start": None, "end": None}
        hint = start if isinstance(start, int) else 0
        found = min(occurrences, key=lambda o: (abs(o - hint), o))
        _flag(flags, OFFSET_CORRECTED)
        if len(occurrences) > 1:
            _flag(flags, AMBIGUOUS)
    stop = found + len(text)
    if content[found:stop] != text:
        _flag(flags, NORMALISED_SPACE)
    if (found > 0 and content[found - 1].isalnum() and content[found].isalnum()) or (
        stop < len(content) and content[stop - 1].isalnum() and content[stop].isalnum()
    ):
        _flag(flags, SPAN_INSIDE_WORD)
    return {"text": content[found:stop], "start": found, "end": stop}


def read_annotation(path: str):
    """The annotation object of one file, or a Reject naming the file."""
    name = f"{ANNOTATION_DIR}/{os.path.basename(path)}"
    try:
        with open(path, "rb") as f:
            data = f.read()
        record = orjson.loads(data.decode(sniff_encoding(path)))
    except UnicodeDecodeError as err:
        return Reject(f"{name}: not valid text: {err.reason} at byte {err.start}")
    except orjson.JSONDecodeError as err:
        return Reject(f"{name}: invalid JSON: {err}")
    if not isinstance(record, dict):
        return Reject(f"{name}: expected a JSON object, got {type(record).__name__}")
    return record


class CASIE(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "id": _string,
            "sourcefile": _string,
            "info": {"title": _string, "date": _string, "type": _string, "link": _string},
            "content": _string,
            "cyberevent": {
                "hopper": datasets.List(
                    {
                        "index": datasets.Value("int32"),
                        "relation": _string,
                        "events": datasets.List(
                            {
                                "index": _string,
                                "type": _string,
                                "subtype": _string,
                                "realis": _string,
                                "nugget": _mention,
                                "argument": datasets.List(
                                    {
                                        **_mention,
                                        "role": {"type": _string},
                                        "type": _string,
                                        "external_reference": {"dbpediaURI": _string, "wikidataid": _string},
                                    }
                                ),
                            }
                        ),
                    }
                )
            },
        }
    )
    record_unit = "document"  # a record is annotation/<id>.json; its line is the id
    optional_keys = frozenset(
        {
            "info.title",
            "info.date",
            "info.type",
            "info.link",
            "sourcefile",
            "cyberevent.hopper.relation",
            "cyberevent.hopper.events.realis",
            "cyberevent.hopper.events.type",
            "cyberevent.hopper.events.index",
            "cyberevent.hopper.events.nugget.index",
            "cyberevent.hopper.events.argument",
            "cyberevent.hopper.events.argument.index",
            "cyberevent.hopper.events.argument.type",
            "cyberevent.hopper.events.argument.external_reference",
            "cyberevent.hopper.events.argument.external_reference.dbpediaURI",
            "cyberevent.hopper.events.argument.external_reference.wikidataid",
        }
    )

    def locate_files(self, dl_manager):
        """The base's, keeping only the splits that hold at least one document (a folder of a few
        documents may have none for some id ending); a name that is not a number counts for train,
        where it is reported."""
        split_files = super().locate_files(dl_manager)
        folder = next(iter(split_files.values()))
        if not os.path.isdir(folder):
            return split_files  # read() rejects it with the reason
        names = [n[: -len(".json")] for n in os.listdir(folder) if n.endswith(".json")]
        wanted = {document_split(int(n)) if n.isdigit() else "train" for n in names}
        if not wanted:
            raise FileNotFoundError(f"{self.corpus.name}: no {ANNOTATION_DIR}/<id>.json file in {folder}")
        self.source_files = {split: path for split, path in self.source_files.items() if split in wanted}
        return {split: path for split, path in split_files.items() if split in wanted}

    def read(self, path, split):
        """``path`` is the ``annotation`` folder; yields the documents of ``split`` by numeric id."""
        if not os.path.isdir(path):  # a file under the folder's name
            yield 1, Reject(f"{os.path.basename(path)} is a file, not the folder of {ANNOTATION_DIR}/<id>.json documents")
            return
        documents = []
        for name in os.listdir(path):
            if not name.endswith(".json"):
                continue
            stem = name[: -len(".json")]
            if not stem.isdigit():
                if split == "train":  # reported once, in one split
                    documents.append((0, name))
                continue
            if document_split(int(stem)) == split:
                documents.append((int(stem), name))
        for doc_id, name in sorted(documents):
            if not name[: -len(".json")].isdigit():
                yield 0, Reject(f"{ANNOTATION_DIR}/{name}: file name is not a numeric CASIE document id")
                continue
            record = read_annotation(os.path.join(path, name))
            if not isinstance(record, Reject):
                record = {"id": str(doc_id), **record}
            yield doc_id, record

    def to_unified(self, raw):
        content, flags = raw["content"], []
        plain_content = _spaces(content)
        events = []
        for hopper in raw["cyberevent"]["hopper"]:
            for event in hopper["events"]:
                nugget = event["nugget"]
                trigger = ground_mention(content, nugget["text"], nugget["startOffset"], nugget["endOffset"], flags, plain_content)
                arguments = []
                for argument in event["argument"] or []:
                    span = ground_mention(content, argument["text"], argument["startOffset"], argument["endOffset"], flags, plain_content)
                    arguments.append({"role": argument["role"]["type"], **span})
                events.append({"type": event["subtype"], "trigger": trigger, "arguments": arguments})
        return unified_record(content, events=events, flags=flags)

    def label_schema(self):
        """The five subtypes (English names) with their argument roles."""
        return {"types": [[k, v] for k, v in self.corpus.labels.items()], "roles": {k: list(v) for k, v in ROLES.items()}}
