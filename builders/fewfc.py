"""FewFC — few-shot financial Chinese event extraction (CCKS 2020 task 3; Zhou et al., AAAI 2021).

Sentences from financial news and listed companies' announcements, ten event types in two
domains: "base" (质押, 股份股权转让, 投资, 减持, 起诉) and "trans" (收购, 判决, 签署合同, 担保, 中标).
The rearranged release (the paper's splits) is four JSON Lines files, base/trans × train/test:
``{"id": md5, "content", "events": [{"type", "mentions": [{"word", "span": [start, end], "role"}]}]}``.

Quirks:
- Four files, two splits: ``train`` = ``train_base.json`` then ``train_trans.json``, ``test`` =
  ``test_base.json`` then ``test_trans.json`` (a joined split, ``Corpus.joined_splits``); the raw view
  keeps the file's domain in ``subset`` ("base"/"trans") so the transfer setting can be rebuilt with
  a filter. Ids number the lines of the parts present as one file (``train_trans.json`` line 1
  follows the last line of ``train_base.json``).
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
  Chinese. The unified view names each argument by its type's Chinese role name from the release's
  Event_Definition.pdf (``sub-org`` of 质押 is 质押公司, of 起诉 原告（公司）): readable instructions,
  and comparable with DuEE's Chinese roles. The raw view keeps the codes.
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
# Event type -> {role code: its Chinese name}, from Event_Definition.pdf (事件框架定义), in its order.
# The unified view names arguments by the Chinese name (as DuEE's roles are Chinese); the raw view
# keeps the codes. The PDF's Target-company is spelt target-company in the data.
ROLE_NAMES = {
    "质押": {
        "sub-org": "质押公司", "sub-per": "质押人", "obj-org": "质权公司", "obj-per": "质权人", "collateral": "质押物",
        "date": "质押日期", "money": "质押金额", "number": "质押数量", "proportion": "质押比例",
    },
    "股份股权转让": {
        "sub-org": "股份股权转让公司", "sub-per": "股份股权转让人", "obj-org": "受转让公司", "obj-per": "受转让人",
        "collateral": "股份股权转让物", "date": "转让日期", "money": "转让交易金额", "number": "转让数量",
        "proportion": "转让比例", "target-company": "标的公司",
    },
    "起诉": {"sub-per": "原告（个人）", "sub-org": "原告（公司）", "obj-per": "被告（个人）", "obj-org": "被告（公司）", "date": "起诉日期"},
    "投资": {"sub": "投资方", "obj": "被投资方", "money": "投资金额", "date": "日期"},
    "减持": {
        "sub": "减持方", "obj": "被减持方", "title": "减持方的职务", "date": "日期",
        "share-per": "减持的股份占个人股份百分比", "share-org": "减持的股份占公司股份的百分比",
    },
    "收购": {
        "sub-org": "收购公司", "sub-per": "收购方", "obj-org": "被收购公司", "way": "收购方式", "date": "收购日期",
        "money": "收购金额", "number": "收购股份数量", "proportion": "收购股份比例",
    },
    "担保": {"sub-org": "担保公司", "sub-per": "担保人", "obj-org": "受担保公司", "way": "担保方式", "amount": "担保金额", "date": "担保日期"},
    "中标": {"sub": "中标方", "obj": "招标方", "amount": "中标金额", "date": "中标日期"},
    "签署合同": {
        "sub-org": "甲方（组织或单位）", "sub-per": "甲方（自然人）", "obj-org": "乙方（组织或单位）", "obj-per": "乙方（自然人）",
        "amount": "成交额", "date": "日期",
    },
    "判决": {
        "institution": "裁判单位", "sub-per": "原告（个人）", "sub-org": "原告（公司）", "obj-per": "被告（个人）",
        "obj-org": "被告（公司）", "date": "判决日期", "money": "判决金额",
    },
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
    labels={event_type: event_type for event_type in ROLE_NAMES},
    roles={event_type: list(names.values()) for event_type, names in ROLE_NAMES.items()},
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
                    "trigger": mention_span(text, triggers[0], flags),
                    "arguments": [
                        {"role": role_name(event["type"], m["role"]), **mention_span(text, m, flags)}
                        for m in event["mentions"]
                        if m["role"] != TRIGGER_ROLE
                    ],
                }
            )
        return unified_record(text, events=events, flags=flags)


def mention_span(text: str, mention: dict, flags: list) -> dict:
    """``{"text", "start", "end"}`` of a FewFC mention (a trigger, or an argument without its role)."""
    span = mention["span"]
    start, end = span_at(text, mention["word"], *(span if len(span) == 2 else (None, None)), flags)
    return {"text": mention["word"], "start": start, "end": end}


def role_name(event_type: str, role: str) -> str:
    """The Chinese name of a role of ``event_type`` (a role outside the definition keeps its code)."""
    return ROLE_NAMES.get(event_type, {}).get(role, role)
