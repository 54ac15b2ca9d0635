"""Machine-translated corpora: ``RAW/<corpus>_zh/``, written by ``chinchilla translate`` from an English corpus.

One builder per English source corpus (``wnut17_zh``, ``conll04_zh``, ``casie_zh``), so ``chinchilla
build --data-dir RAW`` picks up each translated folder like any corpus: ``<corpus>_zh_raw`` (every
line of the translation output as written, with ``source_id``, ``source_text`` and the
``translation`` object: model, prompt version, attempts, mentions searched, error),
``<corpus>_zh_unified`` and ``<corpus>_zh_instruct`` (Chinese templates, the source's labels under
their Chinese names from ``schema.json`` or the source's ``labels_zh``; event argument roles under
the source's ``roles_zh`` names in the unified and instruct views, as written in the raw view).
Licence, homepage and citation are the source's; the card names the translation model(s) from the
files.

Files: ``{train,validation,test}.jsonl`` (one unified record per line) and ``schema.json``.
Quirks handled:

* ``translation_failed`` records (no text) stay in the raw view and are left out of the unified
  and instruct views, counted under ``unified_left_out`` in ``build_report.json``; rerunning
  ``chinchilla translate`` retries them.
* ``projection_failed`` records (a span with null offsets) stay in the unified view and are left
  out of the instruct view (counted under ``instruct_left_out``).
* A span whose offsets do not slice to its text, fall outside it, or are half null (a hand-edited
  file) rejects the record with the reason.
"""

from __future__ import annotations

import json

import datasets

from builders.casie import CORPUS as CASIE
from builders.conll04 import CORPUS as CONLL04
from builders.wnut17 import CORPUS as WNUT17
from chinchilla_datasets.base import ChinchillaBuilder, LeftOut, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.schema import UNIFIED_FEATURES, spans_of
from chinchilla_datasets.sources import read_json_lines
from chinchilla_datasets.spans import PROJECTED_BY_SEARCH, PROJECTION_FAILED, TRANSLATION_FAILED

SPLITS = ("train", "validation", "test")
SCHEMA_FILE = "schema.json"
_string = datasets.Value("string")
_int = datasets.Value("int32")

RAW_FEATURES = datasets.Features(
    {
        **{key: UNIFIED_FEATURES[key] for key in ("id", "corpus", "task", "text", "entities", "relations", "events", "flags")},
        "source_id": _string,
        "source_text": _string,
        "translation": {"model": _string, "prompt_version": _string, "attempts": _int, "mentions_searched": _int,
                        "error": _string},
    }
)
_OFFSETS = ("entities", "relations.head", "relations.tail", "relations.qualifiers", "events.trigger", "events.arguments")
OPTIONAL_KEYS = frozenset(
    [f"{where}.{key}" for where in _OFFSETS for key in ("start", "end")]
    + ["text", "translation.error", "relations.qualifiers.type"]
)


def translated_corpus(source: Corpus) -> Corpus:
    """The metadata of the Chinese translation of ``source``: its licence, homepage and citation."""
    return Corpus(
        name=f"{source.name}_zh",
        task=source.task,
        title=f"{source.title}, machine-translated into Chinese",
        domain=f"{source.domain} (translated into Chinese)",
        homepage=source.homepage,
        license=f"{source.license} (terms of the English source; translated by a model, see the card)",
        citation=source.citation,
        files={split: (f"{split}.jsonl",) for split in SPLITS},
        schema_file=SCHEMA_FILE,
        labels=dict(source.labels_zh or source.labels),
        roles={event_type: [source.roles_zh.get(role, role) for role in roles] for event_type, roles in source.roles.items()},
        roles_zh=dict(source.roles_zh),
        redistributable=source.redistributable,
        translated_from=source.name,
        description=f"{source.title} translated into Chinese by `chinchilla translate`, every span projected onto "
        "the translation through numbered tags and verified.",
        quirks=(
            f"Machine translation of `{source.name}`: spans projected through <mN> tags; a span found only by "
            "searching its mention's translation is flagged projected_by_search; one left unplaced keeps null "
            "offsets (projection_failed, left out of the instruct view).",
            "Records whose translation failed (translation_failed) are in the raw view only.",
        ),
    )


class TranslatedBuilder(ChinchillaBuilder):
    """Base of the ``<corpus>_zh`` builders: reads ``chinchilla translate`` output."""

    raw_features = RAW_FEATURES
    optional_keys = OPTIONAL_KEYS
    instruct_excluded_flags = frozenset({PROJECTION_FAILED})

    def read(self, path, split):
        counts = self.report.setdefault(split, {"read": 0, "written": 0, "rejected": []})
        models = set(counts.get("translated_by", []))
        for flag in (TRANSLATION_FAILED, PROJECTION_FAILED, PROJECTED_BY_SEARCH):
            counts.setdefault(flag, 0)
        for line_no, item in read_json_lines(path):
            if isinstance(item, dict):
                # Counted from well-formed fields only: a malformed record is rejected by the
                # conformance check after this, and must not crash the reader first.
                translation, flags = item.get("translation"), item.get("flags")
                model = translation.get("model") if isinstance(translation, dict) else None
                if isinstance(model, str):
                    models.add(model)
                if isinstance(flags, list):
                    for flag in (TRANSLATION_FAILED, PROJECTION_FAILED, PROJECTED_BY_SEARCH):
                        counts[flag] += flag in flags
            yield line_no, item
        counts["translated_by"] = sorted(models)

    def to_unified(self, raw):
        if TRANSLATION_FAILED in raw["flags"]:
            raise LeftOut(f"{TRANSLATION_FAILED}: {raw['translation']['error'] or 'no translation'}")
        text = raw["text"]
        if text is None:
            raise ValueError("no text in a record not flagged translation_failed")
        for span in spans_of(raw):
            start, end = span["start"], span["end"]
            if (start is None) != (end is None):
                raise ValueError(f"span {span['text']!r} has start {start} and end {end}: both or neither must be null")
            if start is not None and not (0 <= start <= end <= len(text) and text[start:end] == span["text"]):
                raise ValueError(f"span {start}:{end} is {text[start:end]!r}, not {span['text']!r}")
        return unified_record(text, raw["entities"], raw["relations"], self._roles_in_chinese(raw["events"]), raw["flags"])

    def _roles_in_chinese(self, events: list) -> list:
        """The events with each argument's role under its Chinese name (``roles_zh``), where the source has one."""
        names = self.corpus.roles_zh
        if not names:
            return events
        return [{**event, "arguments": [{**argument, "role": names.get(argument["role"], argument["role"])}
                                        for argument in event["arguments"]]} for event in events]

    def read_schema(self, path):
        """``schema.json`` as ``chinchilla translate`` writes it (types with Chinese names, roles, here
        under their ``roles_zh`` names); its well-formed entries only, and the corpus labels when it
        has none (a damaged file)."""
        try:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
        except (OSError, ValueError):
            schema = None
        schema = schema if isinstance(schema, dict) else {}
        types = [list(t) for t in schema.get("types") or () if isinstance(t, list) and len(t) == 2
                 and all(isinstance(x, str) for x in t)]
        roles = schema.get("roles") if isinstance(schema.get("roles"), dict) else {}
        names = self.corpus.roles_zh
        roles = {k: [names.get(r, r) for r in v if isinstance(r, str)] for k, v in roles.items() if isinstance(k, str) and isinstance(v, list)}
        if not types:
            types = [[label, shown] for label, shown in self.corpus.labels.items()]
        return {"types": types, "roles": roles}


class WNUT17Zh(TranslatedBuilder):
    corpus = translated_corpus(WNUT17)


class CoNLL04Zh(TranslatedBuilder):
    corpus = translated_corpus(CONLL04)


class CASIEZh(TranslatedBuilder):
    corpus = translated_corpus(CASIE)
