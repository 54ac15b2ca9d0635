"""FewFC — few-shot financial Chinese event extraction (CCKS 2020 task 3; Zhou et al., AAAI 2021).

Sentences from financial news and listed companies' announcements, ten event types in two
domains: "base" (质押, 股份股权转让, 投资, 减持, 起诉) and "trans" (收购, 判决, 签署合同, 担保, 中标).
The rearranged release (the paper's splits) is four JSON Lines files, base/trans × train/test:
``{"id": md5, "content", "events": [{"type", "mentions": [{"word", "span": [start, end], "role"}]}]}``.

Quirks:
- Four files, two splits: ``train`` = ``train_base.json`` then ``train_trans.json``, ``test`` =
  ``test_base.json`` then ``test_trans.json`` (a joined split, ``Corpus.joined_splits``); the raw view
  keeps the file's domain in ``subset`` ("base"/"trans") so the transfer setting can be rebuilt with
  a filter. Ids number the lines of the two files as one (``train_trans.json`` line 1 follows the
  last line of ``train_base.json``).
- The trigger is one of the mentions (role ``trigger``, exactly one per event, not always first);
  the other mentions are the arguments, in source order. An event without a trigger, or with
  several, cannot be one unified event and is rejected at conversion with the reason.
- ``span`` is ``[start, end)``, end EXCLUSIVE, over ``content``; a span that does not slice to its
  word is re-grounded only when the word occurs once (``offset_corrected``), else null
  (``ungrounded_span``, ``ambiguous_span``).
- One sentence often has several events on the same trigger span (one 减持 event per shareholder;
  减持 and 股份股权转让 on one trigger): each stays its own event. Argument spans may overlap or nest.
- Records with ``"events": []`` are kept (negative examples). ``train_base``/``test_base`` have CRLF
  line ends, the trans files LF. Role names are English (``sub-org``, ``obj-per``, ...), types
  Chinese; the roles of each type are those of the release's Event_Definition.pdf.
"""

import os

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import read_json_lines
from chinchilla_datasets.spans import span_at

_COMMIT = "ec6cac90238c04b45d4512a695ee6375fc72af2f"
_REPO = f"https://raw.githubusercontent.com/TimeBurningFish/FewFC/{_COMMIT}/rearranged"
TRIGGER_ROLE = "trigger"
# Event type -> argument roles, from Event_Definition.pdf (事件框架定义); Target-company is spelt
# target-company in the data.
ROLES = {
    "质押": ["sub-org", "sub-per", "obj-org", "obj-per", "collateral", "date", "money", "number", "proportion"],
    "股份股权转让": [
        "sub-org", "sub-per", "obj-org", "obj-per", "collateral", "date", "money", "number", "proportion", "target-company",
    ],
    "起诉": ["sub-per", "sub-org", "obj-per", "obj-org", "date"],
    "投资": ["sub", "obj", "money", "date"],
    "减持": ["sub", "obj", "title", "date", "share-per", "share-org"],
    "收购": ["sub-org", "sub-per", "obj-org", "way", "date", "money", "number", "proportion"],
    "担保": ["sub-org", "sub-per", "obj-org", "way", "amount", "date"],
    "中标": ["sub", "obj", "amount", "date"],
    "签署合同": ["sub-org", "sub-per", "obj-org", "obj-per", "amount", "date"],
    "判决": ["institution", "sub-per", "sub-org", "obj-per", "obj-org", "date", "money"],
}
_FILES = {"train": ("train_base.json", "train_trans.json"), "test": ("test_base.json", "test_trans.json")}

CORPUS = Corpus(
    name="fewfc",
    task="EE",
    title="FewFC",
    domain="finance",
    homepage="https://github.com/TimeBurningFish/FewFC",
    license="CC BY-SA 4.0",
    citation=(
        "@inproceedings{Yang2021,\n  author={Yang Zhou and Yubo Chen and Jun Zhao and Yin Wu and Jiexin Xu and "
        "Jinlong Li},\n  title={What the role is vs. What plays the role: Semi-supervised Event Argument Extraction "
        "via Dual Question Answering},\n  booktitle={Proceedings of AAAI-21},\n  publisher={{AAAI} Press},\n"
        "  year={2021}\n}"
    ),
    files=_FILES,
    joined_splits=frozenset(_FILES),
    # The rearranged files at the commit SOURCE.md names (not fetched in this repository's tests).
    urls={name: f"{_REPO}/{name}" for names in _FILES.values() for name in names},
    labels={event_type: event_type for event_type in ROLES},
    roles=ROLES,
    redistributable=True,
    description="Sentence-level financial event extraction, ten event types with trigger and argument offsets.",
    quirks=(
        "Four files: train = train_base + train_trans, test = test_base + test_trans; the raw view's subset says which.",
        "The trigger is the mention with role trigger; several events often share one trigger span.",
        "Spans are [start, end) over content; records with no events are kept.",
    ),
)


def subset_of(path: str) -> str:
    """``base`` or ``trans``: the domain of a FewFC file, from its name (also a line shard's name)."""
    return "trans" if os.path.basename(path).startswith(("train_trans", "test_trans")) else "base"


class FewFC(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "content": datasets.Value("string"),
            "events": datasets.List(
                {
                    "type": datasets.Value("string"),
                    "mentions": datasets.List(
                        {"word": datasets.Value("string"), "span": datasets.List(datasets.Value("int32")), "role": datasets.Value("string")}
                    ),
                }
            ),
            "subset": datasets.Value("string"),  # not in the source: "base" or "trans", from the file name
        }
    )
    label_keys = frozenset({"events"})

    one_record_per_line = True  # JSON Lines

    def read(self, path, split):
        subset = subset_of(path)
        for line_no, record in read_json_lines(path):
            yield line_no, record if not isinstance(record, dict) else {**record, "subset": subset}

    def to_unified(self, raw):
        text, flags, events = raw["content"], [], []
        for i, event in enumerate(raw["events"]):
            triggers = [m for m in event["mentions"] if m["role"] == TRIGGER_ROLE]
            if len(triggers) != 1:
                raise ValueError(f"events[{i}] ({event['type']}) has {len(triggers)} trigger mentions, expected one")
            events.append(
                {
                    "type": event["type"],
                    "trigger": mention_span(text, triggers[0], flags, with_role=False),
                    "arguments": [mention_span(text, m, flags) for m in event["mentions"] if m["role"] != TRIGGER_ROLE],
                }
            )
        return unified_record(text, events=events, flags=flags)


def mention_span(text: str, mention: dict, flags: list, with_role: bool = True) -> dict:
    """A FewFC mention as a unified argument (or, without its role, a trigger)."""
    span = mention["span"]
    start, end = span_at(text, mention["word"], *(span if len(span) == 2 else (None, None)), flags)
    out = {"text": mention["word"], "start": start, "end": end}
    return {"role": mention["role"], **out} if with_role else out
