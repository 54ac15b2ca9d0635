"""CCKS 2020 task 8 — named entities in military test-and-evaluation texts (面向试验鉴定的命名实体识别).

The organisers' archive ``ccks_8_data_v2.zip`` (after registration on biendata; the one public
copy, read here, is in the AI-confused/CCKS2020_Military_NER_Baseline repository) holds
``ccks_8_data_v2/train/train_V2_<n>.json`` (n = 1..400), ONE DOCUMENT PER FILE, and
``ccks_8_data_v2/validate_data.json`` (100 unlabelled documents: raw view only); no test set.
The zip, or its files anywhere under the corpus folder, are read.

Quirks:
- Encodings differ per file: every train file is GBK (decoded as GB18030, its superset), CRLF and
  TAB-indented; ``validate_data.json`` is UTF-8, CRLF, one member per line.
- A train file is one pretty-printed object ``{"originalText", "entities": [{"label_type",
  "overlap", "start_pos", "end_pos"}]}``. Offsets are 1-BASED and END-INCLUSIVE
  (``originalText[start_pos - 1:end_pos]``), and no mention string is given, so a wrong offset
  cannot be re-grounded: an entity whose offsets fall outside the text (or end before they start)
  keeps null offsets, with an empty mention, and the record is flagged ``ungrounded_span``.
  ``overlap`` (0 throughout) is kept in the raw view.
- Characters lost in a GBK round trip are ASCII ``?``, mostly where ``。`` or ``、`` stood
  (``导弹?试验``). They are kept (which one was lost cannot be told) and the record is flagged
  ``lost_punctuation``; offsets count them as one character each, as the annotators did.
- ``validate_data.json`` is ONE object ``{"validate_V2_<n>.json": text, ...}`` (keys sorted as
  strings: 1, 10, 100, ...); each member is read as a document of its own line, so one broken
  member costs only itself. ``submit_sample.json`` (placeholders) is not read.

The "line" of a record (its key, and its id ``ccks2020_military_ner-<split>-<line>``): a train
document's first line counted as if the documents were one file read in the order of their
numbers (``train_V2_1.json`` then ``train_V2_2.json`` ...; the same rule as a split joined from
several files); a validation document's line in ``validate_data.json``. Rejections name the
document's file and the line inside it. The raw ``document`` field keeps the file name.
"""

import datasets
import orjson

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, read_json_array_lines, read_nonblank_lines
from chinchilla_datasets.spans import UNGROUNDED

_REPO = "https://raw.githubusercontent.com/AI-confused/CCKS2020_Military_NER_Baseline/021373e26b2dc074be5a9fd3b3e0d20481d2dd38"
OFFICIAL_ZIP = "ccks_8_data_v2.zip"
TRAIN_PATTERN = "train_V2_*.json"
VALIDATION_FILE = "validate_data.json"
# Flag of a record whose text holds ASCII '?' standing for a character lost in a GBK round trip.
LOST_PUNCTUATION = "lost_punctuation"

CORPUS = Corpus(
    name="ccks2020_military_ner",
    task="NER",
    title="CCKS 2020 military NER (task 8)",
    domain="military test and evaluation",
    homepage="https://github.com/AI-confused/CCKS2020_Military_NER_Baseline",
    license="not stated (CCKS 2020 competition terms; the baseline repository's Apache-2.0 covers its code only)",
    redistributable=False,
    citation=(
        "@misc{ccks2020task8,\n  title={{CCKS} 2020: 面向试验鉴定的命名实体识别 (named entity recognition for "
        "military test and evaluation), evaluation task 8},\n  author={{CCKS 2020 organisers}},\n  year={2020},\n"
        "  howpublished={China Conference on Knowledge Graph and Semantic Computing (CCKS) 2020}\n}"
    ),
    files={"train": (TRAIN_PATTERN,), "validation": (VALIDATION_FILE,)},
    urls={OFFICIAL_ZIP: f"{_REPO}/{OFFICIAL_ZIP}"},
    unlabelled_splits=frozenset({"validation"}),
    labels={"试验要素": "试验要素", "性能指标": "性能指标", "系统组成": "系统组成", "任务场景": "任务场景"},
    description=(
        "Named entities of four types (试验要素, 性能指标, 系统组成, 任务场景) in Chinese military test-and-evaluation "
        "documents (train 400 documents, 3,161 entities; validation 100 unlabelled documents)."
    ),
    quirks=(
        "One document per train file (train_V2_<n>.json), GBK-encoded; validate_data.json is UTF-8 and unlabelled.",
        "Offsets are 1-based and end-inclusive, without mention strings; the unified view makes them 0-based, end-exclusive.",
        "ASCII '?' stands for punctuation lost in a GBK round trip (。 or 、): kept, record flagged lost_punctuation.",
    ),
)

TYPES = tuple(CORPUS.labels)
_ENTITY_KEYS = ("label_type", "overlap", "start_pos", "end_pos")


def document_record(document: str, record: dict):
    """The raw record of one train document (a parsed file), or a Reject naming what is wrong."""
    entities = record.get("entities")
    if not isinstance(entities, list):
        return Reject(f"{document}: 'entities' must be a list, got {type(entities).__name__}")
    for i, entity in enumerate(entities):
        if not isinstance(entity, dict):
            return Reject(f"entities[{i}]: expected an object, got {type(entity).__name__}")
        if entity.get("label_type") not in TYPES:
            return Reject(f"entities[{i}]: unknown label_type {entity.get('label_type')!r}; known: {', '.join(TYPES)}")
    return {
        "document": document,
        "originalText": record.get("originalText"),
        "entities": [{key: entity.get(key) for key in _ENTITY_KEYS} for entity in entities],
    }


def read_validation_members(path: str):
    """``(line_no, {"document", "originalText", "entities": None})`` per member line of
    ``validate_data.json`` (``"validate_V2_<n>.json": "text",``), or ``(line_no, Reject)``."""
    for line_no, line in read_nonblank_lines(path):
        if isinstance(line, Reject):
            yield line_no, line
            continue
        member = line.strip().rstrip(",")
        if member in ("{", "}"):
            continue  # the object's own braces
        try:
            parsed = orjson.loads("{" + member + "}")
        except orjson.JSONDecodeError as err:
            yield line_no, Reject(f"expected a member '\"validate_V2_<n>.json\": \"text\"': {err}")
            continue
        if len(parsed) != 1:
            yield line_no, Reject(f"expected one member on the line, got {len(parsed)}")
            continue
        (document, text), = parsed.items()
        yield line_no, {"document": document, "originalText": text, "entities": None}


def entity_span(text: str, start_pos, end_pos) -> tuple:
    """0-based, end-exclusive ``(start, end)`` of 1-based inclusive source offsets, or ``(None, None)``
    when they do not fit the text."""
    if 1 <= start_pos <= end_pos <= len(text):
        return start_pos - 1, end_pos
    return None, None


class CCKS2020MilitaryNER(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "document": datasets.Value("string"),  # the source file (train) or member name (validation)
            "originalText": datasets.Value("string"),
            "entities": datasets.List(
                {
                    "label_type": datasets.Value("string"),
                    "overlap": datasets.Value("int32"),
                    "start_pos": datasets.Value("int32"),  # 1-based
                    "end_pos": datasets.Value("int32"),  # 1-based, inclusive
                }
            ),
        }
    )
    label_keys = frozenset({"entities"})

    def read(self, path, split):
        if split in self.corpus.unlabelled_splits:
            yield from read_validation_members(path)
            return
        document = path.replace("\\", "/").rsplit("/", 1)[-1]
        records = list(read_json_array_lines(path))
        for line_no, record in records:
            if not isinstance(record, Reject) and len(records) > 1:
                record = Reject("a document file must hold one JSON object, found several")
            yield line_no, record if isinstance(record, Reject) else document_record(document, record)

    def to_unified(self, raw):
        text, flags, entities = raw["originalText"], [], []
        for item in raw["entities"]:
            start, end = entity_span(text, item["start_pos"], item["end_pos"])
            if start is None and UNGROUNDED not in flags:
                flags.append(UNGROUNDED)
            mention = "" if start is None else text[start:end]
            entities.append({"type": item["label_type"], "text": mention, "start": start, "end": end})
        if "?" in text:
            flags.append(LOST_PUNCTUATION)
        return unified_record(text, entities=entities, flags=flags)
