"""CLUENER2020 — CLUE's fine-grained NER over Sina News sentences (THUCTC), ten entity types.

``train.json`` / ``dev.json``: JSON Lines ``{"text", "label": {type: {mention: [[start, end], ...]}}}``
with 0-based character offsets, END INCLUSIVE (``text[start:end + 1] == mention``). A mention
occurring several times has several spans in its list, but repeated occurrences are not always all
annotated; the order of the type keys varies per line. ``test.json`` is unlabelled (``{"id": int,
"text"}``): split ``test`` of the raw view only. Spelling: the data says ``government`` while the
README and the submission example say ``goverment``; both are read as ``government``. Mentions of
books, films and games usually include their 《》 brackets, sometimes only one of them, and spans may
nest (a company inside a book title).

Raw view: ``label`` is a struct over the ten types (null when the type is absent from the line),
each a list of ``{"mention", "spans"}`` with the source's inclusive ``[start, end]`` pairs: the type
set is closed and documented, so a struct keeps the columns typed (a free-form ``Json`` column would
not), and no span is dropped. Unified view: one entity per span, end exclusive, sorted by position.
"""

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, read_json_lines
from chinchilla_datasets.spans import OFFSET_CORRECTED, ground

_REPO = "https://raw.githubusercontent.com/cyandn/CLUENER2020/ba13ac9a41189459091506d5fec4ff22343b5a1e/cluener_public"
OFFICIAL_ZIP = "https://storage.googleapis.com/cluebenchmark/tasks/cluener_public.zip"
_FILES = {"train": "train.json", "validation": "dev.json", "test": "test.json"}
# The README's spelling of government (also in its submission example).
TYPE_ALIASES = {"goverment": "government"}

CORPUS = Corpus(
    name="cluener",
    task="NER",
    title="CLUENER2020",
    domain="news",
    homepage="https://github.com/CLUEbenchmark/CLUENER2020",
    license="not stated (neither the data archive nor the repository states a license)",
    citation=(
        "@article{xu2020cluener2020,\n  title={{CLUENER2020}: Fine-grained Named Entity Recognition Dataset and "
        "Benchmark for {C}hinese},\n  author={Xu, Liang and Dong, Qianqian and Yu, Cong and Tian, Yin and Liu, "
        "Weitang and Li, Lu and Zhang, Xuanwei},\n  journal={arXiv preprint arXiv:2001.04351},\n  year={2020}\n}"
    ),
    files={split: (name,) for split, name in _FILES.items()},
    # The official download is the archive OFFICIAL_ZIP (also accepted in data_dir); these are the
    # same three files (identical blobs) in a mirror pinned to a commit.
    urls={name: f"{_REPO}/{name}" for name in _FILES.values()},
    unlabelled_splits=frozenset({"test"}),
    labels={
        "address": "地址",
        "book": "书名",
        "company": "公司",
        "game": "游戏",
        "government": "政府",
        "movie": "电影",
        "name": "姓名",
        "organization": "组织机构",
        "position": "职位",
        "scene": "景点",
    },
    redistributable=False,
    description="Fine-grained named entities of ten types in short Sina News sentences, with character offsets.",
    quirks=(
        "Offsets are end-inclusive [start, end] pairs; the unified view makes end exclusive.",
        "The data spells government; the README spells goverment (read as government).",
        "Repeated occurrences of a mention are not always all annotated; spans may nest.",
        "test.json is unlabelled (raw view only).",
    ),
)

TYPES = tuple(CORPUS.labels)
_MENTIONS = datasets.List({"mention": datasets.Value("string"), "spans": datasets.List(datasets.List(datasets.Value("int32")))})


def label_struct(label) -> dict:
    """The raw ``label`` struct (type -> ``[{"mention", "spans"}]``) of a source label dict, or a Reject."""
    if not isinstance(label, dict):
        return Reject(f"label: expected an object, got {type(label).__name__}")
    out: dict = {}
    for type_, mentions in label.items():
        known = TYPE_ALIASES.get(type_, type_)
        if known not in TYPES:
            return Reject(f"unknown entity type {type_!r}; known: {', '.join(TYPES)}")
        if not isinstance(mentions, dict):
            return Reject(f"label.{type_}: expected an object mention -> spans, got {type(mentions).__name__}")
        for mention, spans in mentions.items():
            if not isinstance(spans, list) or not all(_is_pair(span) for span in spans):
                return Reject(f"label.{type_}.{mention}: expected a list of [start, end] pairs, got {spans!r:.60}")
            out.setdefault(known, []).append({"mention": mention, "spans": [list(span) for span in spans]})
    return out


def _is_pair(span) -> bool:
    return (
        isinstance(span, list)
        and len(span) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) for i in span)
    )


class CLUENER(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "id": datasets.Value("int32"),
            "text": datasets.Value("string"),
            "label": {type_: _MENTIONS for type_ in TYPES},
        }
    )
    # id: only the test file has one; a type absent from a line is null.
    optional_keys = frozenset({"id"} | {f"label.{type_}" for type_ in TYPES})
    label_keys = frozenset({"label"})

    one_record_per_line = True  # JSON Lines
    def read(self, path, split):
        for line_no, record in read_json_lines(path):
            if not isinstance(record, Reject) and "label" in record:
                label = label_struct(record["label"])
                record = label if isinstance(label, Reject) else {**record, "label": label}
            yield line_no, record

    def to_unified(self, raw):
        text, flags, entities = raw["text"], [], []
        for type_ in TYPES:
            for item in raw["label"][type_] or []:
                mention = item["mention"]
                for first, last in item["spans"]:
                    start, end = ground(text, mention, first, flags)
                    if start is not None and (start, end) != (first, last + 1) and OFFSET_CORRECTED not in flags:
                        flags.append(OFFSET_CORRECTED)
                    entities.append({"type": type_, "text": mention, "start": start, "end": end})
        entities.sort(key=lambda e: (e["start"] is None, e["start"] or 0, e["end"] or 0, TYPES.index(e["type"])))
        return unified_record(text, entities=entities, flags=flags)
