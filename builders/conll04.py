"""CoNLL04 — entities and relations in English news sentences (Roth & Yih 2004), SpERT's JSON split.

An English source of the translation stage (``chinchilla translate``): its own configs use the
English instruction templates and it is not part of the Chinese mixtures (``all_*``).

``conll04_{train,dev,test}.json`` (split of Gupta et al. 2016 as distributed by SpERT, Eberts &
Ulges 2020) each hold ONE JSON array (usually on one line, no final newline) of records
``{"tokens": [...], "entities": [{"type", "start", "end"}], "relations": [{"type", "head", "tail"}],
"orig_id"}``: entity offsets are token indexes (end exclusive), ``head``/``tail`` index the
record's ``entities``, ``orig_id`` is the sentence number in the original ``conll04.corp``. A
record's line in the build report is its 1-based position in the array. ``conll04_types.json``
lists the entity and relation types with their verbose names.

The unified text is the tokens joined by single spaces, so entity offsets fall on token
boundaries; entity mentions keep the punctuation the original tokens carry (``Sweden.``,
``Dec. 14 ,``) and the PTB escapes (``-LCB-``, `` ` ` ``). A token index out of range, an empty
entity or a relation pointing past the entity list rejects the record with the reason. Some
sentences occur in several splits (the dedup flags mark them).
"""

import datasets
import orjson

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, read_json_array

_REPO = "https://raw.githubusercontent.com/YoumiMa/TablERT/8b68af285b4b6034585a42dc468c73441481a2cb/data/datasets/conll04"
_FILES = {"train": "conll04_train.json", "validation": "conll04_dev.json", "test": "conll04_test.json"}
TYPES_FILE = "conll04_types.json"

CORPUS = Corpus(
    name="conll04",
    task="RE",
    title="CoNLL04 entities and relations (SpERT split)",
    domain="news, English",
    homepage="https://github.com/lavis-nlp/spert",  # the split used here; the corpus: cogcomp.seas.upenn.edu/Data/ER/conll04.corp
    license="not stated for the data (CogComp distributes conll04.corp without a licence; the SpERT/TablERT copies' MIT licences cover their code)",
    # No stated data licence: not republished by default (like the Chinese corpora without one).
    redistributable=False,
    citation=(
        "@inproceedings{roth2004linear,\n  title={A Linear Programming Formulation for Global Inference in "
        "Natural Language Tasks},\n  author={Roth, Dan and Yih, Wen-tau},\n  booktitle={Proceedings of the "
        "Eighth Conference on Computational Natural Language Learning (CoNLL-2004)},\n  pages={1--8},\n  "
        "year={2004}\n}\n@inproceedings{eberts2020spert,\n  title={Span-based Joint Entity and Relation "
        "Extraction with Transformer Pre-training},\n  author={Eberts, Markus and Ulges, Adrian},\n  "
        "booktitle={ECAI},\n  year={2020}\n}"
    ),
    files={split: (name,) for split, name in _FILES.items()},
    schema_file=TYPES_FILE,
    urls={name: f"{_REPO}/{name}" for name in [*_FILES.values(), TYPES_FILE]},
    language="en",
    labels={
        "Work_For": "work for",
        "Kill": "kill",
        "OrgBased_In": "organization based in",
        "Live_In": "live in",
        "Located_In": "located in",
    },
    labels_zh={
        "Work_For": "任职于",
        "Kill": "杀害",
        "OrgBased_In": "机构位于",
        "Live_In": "居住于",
        "Located_In": "位于",
        "Peop": "人物",
        "Org": "组织机构",
        "Loc": "地点",
        "Other": "其他",
    },
    description="Sentence-level entities (Peop, Org, Loc, Other) and five relations in English news (English source of the translation stage).",
    quirks=(
        "Each split file is one JSON array; a record's report line is its position in the array.",
        "Text = tokens joined by single spaces; mentions keep punctuation carried by the tokens (Sweden.) and PTB escapes.",
        "Some sentences occur in several splits.",
    ),
)

_span = {"type": datasets.Value("string"), "start": datasets.Value("int32"), "end": datasets.Value("int32")}
_link = {"type": datasets.Value("string"), "head": datasets.Value("int32"), "tail": datasets.Value("int32")}


def token_fault(record: dict):
    """A Reject naming the first entity or relation index that does not fit the record, else None.
    (Types are checked by the raw features afterwards; only plain ints are compared here.)"""
    tokens, entities, relations = record.get("tokens"), record.get("entities"), record.get("relations")
    if not isinstance(tokens, list) or not tokens:
        return Reject("no tokens")
    for i, ent in enumerate(entities if isinstance(entities, list) else []):
        start, end = (ent.get("start"), ent.get("end")) if isinstance(ent, dict) else (None, None)
        if isinstance(start, int) and isinstance(end, int) and not 0 <= start < end <= len(tokens):
            return Reject(f"entity {i} spans tokens [{start}, {end}) of a {len(tokens)}-token sentence")
    count = len(entities) if isinstance(entities, list) else 0
    for i, rel in enumerate(relations if isinstance(relations, list) else []):
        for end in ("head", "tail"):
            index = rel.get(end) if isinstance(rel, dict) else None
            if isinstance(index, int) and not 0 <= index < count:
                return Reject(f"relation {i} {end} {index} is not one of the record's {count} entities")
    return None


def token_entities(tokens: list, spans: list) -> tuple:
    """``(text, entities)``: tokens joined by single spaces, and each ``{"type", "start", "end"}``
    token span as a unified entity with character offsets."""
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    text = " ".join(tokens)
    entities = []
    for span in spans:
        start = starts[span["start"]]
        end = starts[span["end"] - 1] + len(tokens[span["end"] - 1])
        entities.append({"type": span["type"], "text": text[start:end], "start": start, "end": end})
    return text, entities


class CoNLL04(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "tokens": datasets.List(datasets.Value("string")),
            "entities": datasets.List(_span),
            "relations": datasets.List(_link),
            "orig_id": datasets.Value("int32"),
        }
    )
    optional_keys = frozenset({"orig_id"})
    record_unit = "position"  # the files are one JSON array on one line

    def read(self, path, split):
        for record_no, record in read_json_array(path):
            if not isinstance(record, Reject):
                record = token_fault(record) or record
            yield record_no, record

    def to_unified(self, raw):
        text, entities = token_entities(raw["tokens"], raw["entities"])
        relations = [
            {"type": rel["type"], "head": entities[rel["head"]], "tail": entities[rel["tail"]], "qualifiers": []}
            for rel in raw["relations"]
        ]
        return unified_record(text, entities=entities, relations=relations)

    def read_schema(self, path):
        """The relation types of ``conll04_types.json`` (readable names from the corpus labels,
        else the file's ``verbose`` name); the corpus labels when the file cannot be read."""
        try:
            with open(path, "rb") as f:
                types_file = orjson.loads(f.read())  # one JSON object over several lines
        except (OSError, orjson.JSONDecodeError):
            types_file = None
        relations = types_file.get("relations") if isinstance(types_file, dict) else None
        if not isinstance(relations, dict) or not relations:
            return {"types": [[k, v] for k, v in self.corpus.labels.items()], "roles": {}}
        types = []
        for label, info in relations.items():
            verbose = info.get("verbose") if isinstance(info, dict) else None
            types.append([label, self.corpus.labels.get(label) or (verbose if isinstance(verbose, str) else label)])
        return {"types": types, "roles": {}}
