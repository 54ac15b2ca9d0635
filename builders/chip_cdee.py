"""CHIP-CDEE — clinical finding event extraction (CBLUE; CHIP 2021), from Chinese medical records.

Each file is ONE pretty-printed JSON array of ``{"id": int, "text", "event": [{"core_name",
"tendency", "character": [str], "anatomy_list": [str]}]}`` (read with ``sources.read_json_array_lines``:
a record's line is the line of its opening brace). ``CHIP-CDEE_test.json`` is unlabelled (every
``event`` is ``[]``): raw view only.

Unified events (one type; names from the CBLUE task definition, 主体词/发生状态/描述词/解剖部位):
- ``type`` is ``临床发现事件`` for every event;
- the trigger is ``core_name`` (主体词, the finding);
- the arguments are ``tendency`` (role ``发生状态``, when not empty), each ``character`` (``描述词``)
  and each ``anatomy_list`` item (``解剖部位``), in that order.

Quirks:
- No offsets, and the values are NORMALISED rather than copied: a core_name or character is often
  not in the text (``大小便如常`` gives character ``正常``; about one core_name in nine is absent).
  Values are grounded by search: absent ones keep null offsets (``ungrounded_span``), the event is
  kept. ``tendency`` is a category (``否定``, ``不确定``), never a mention: its offsets are always null
  (``ungrounded_span``).
- A value occurring several times is grounded at the occurrence nearest to its event's trigger
  (``ambiguous_span``): 正常 recurs once per finding in ``食欲正常…大便正常``. A core_name occurring
  several times takes its first occurrence (``ambiguous_span``).
- ``tendency`` is twice ``不确定 `` with a trailing space: the unified view strips it
  (``value_stripped``); the raw view keeps it. ids are ints, unique per file, not in order.
"""

import datasets

from chinchilla_datasets import cblue
from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import read_json_array_lines
from chinchilla_datasets.spans import UNGROUNDED, ground, ground_near

EVENT_TYPE = "临床发现事件"
TENDENCY, CHARACTER, ANATOMY = "发生状态", "描述词", "解剖部位"
VALUE_STRIPPED = "value_stripped"

CORPUS = Corpus(
    name="chip_cdee",
    task="EE",
    title="CHIP-CDEE (CBLUE)",
    domain="clinical",
    homepage=cblue.HOMEPAGE,
    license=cblue.LICENSE,
    citation=cblue.CITATION,
    files={"train": ("CHIP-CDEE_train.json",), "validation": ("CHIP-CDEE_dev.json",), "test": ("CHIP-CDEE_test.json",)},
    manual=True,
    unlabelled_splits=frozenset({"test"}),
    labels={EVENT_TYPE: EVENT_TYPE},
    roles={EVENT_TYPE: [TENDENCY, CHARACTER, ANATOMY]},
    redistributable=False,
    description="Clinical finding events (finding, polarity, descriptors, body sites) in Chinese medical records.",
    quirks=(
        "Values are normalised, not spans: those absent from the text keep null offsets (ungrounded_span).",
        "core_name is the trigger; tendency, character and anatomy_list are arguments (发生状态, 描述词, 解剖部位).",
        "CHIP-CDEE_test.json is unlabelled (raw view only).",
    ),
)


class CHIPCDEE(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "id": datasets.Value("int32"),
            "text": datasets.Value("string"),
            "event": datasets.List(
                {
                    "core_name": datasets.Value("string"),
                    "tendency": datasets.Value("string"),
                    "character": datasets.List(datasets.Value("string")),
                    "anatomy_list": datasets.List(datasets.Value("string")),
                }
            ),
        }
    )
    label_keys = frozenset({"event"})

    def read(self, path, split):
        yield from read_json_array_lines(path)

    def to_unified(self, raw):
        text, flags, events = raw["text"], [], []
        for event in raw["event"]:
            start, end = ground(text, event["core_name"], None, flags)
            arguments = []
            tendency = event["tendency"].strip()
            if tendency != event["tendency"] and VALUE_STRIPPED not in flags:
                flags.append(VALUE_STRIPPED)
            if tendency:  # a category, not a mention
                arguments.append({"role": TENDENCY, "text": tendency, "start": None, "end": None})
                if UNGROUNDED not in flags:
                    flags.append(UNGROUNDED)
            for role, values in ((CHARACTER, event["character"]), (ANATOMY, event["anatomy_list"])):
                for value in values:
                    a_start, a_end = ground_near(text, value, start, flags)
                    arguments.append({"role": role, "text": value, "start": a_start, "end": a_end})
            events.append({"type": EVENT_TYPE, "trigger": {"text": event["core_name"], "start": start, "end": end}, "arguments": arguments})
        return unified_record(text, events=events, flags=flags)
