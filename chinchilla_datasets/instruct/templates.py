"""Instruction templates and the options of the instruct view: loading the templates (data in
``instructions/*.yaml``, safe-loaded), choosing one per row (a pure function of the row id and the
seed), listing the asked types in an instruction, and the seeded hashes every random choice of the
view is made of (``hash64``, ``mix64``)."""

from __future__ import annotations

import gc
import hashlib
import string
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Optional

import numpy as np
import orjson
import yaml

from ..schema import INSTRUCT_FEATURES, UNIFIED_FEATURES


TEMPLATE_FILES = {"NER": "ner.yaml", "RE": "re.yaml", "EE": "ee.yaml", "EET": "eet.yaml", "EEA": "eea.yaml"}
KNOWN_PLACEHOLDERS = {"schema", "event_type", "trigger"}
INSTRUCT_COLUMNS = ("id", "record_id", "corpus", "task", "split", "instruction", "input", "output", "template_id", "schema", "params")
TRAIN_SPLIT = "train"
INSTRUCT_SCHEMA = INSTRUCT_FEATURES.arrow_schema
UNIFIED_SCHEMA = UNIFIED_FEATURES.arrow_schema


@dataclass(frozen=True)
class InstructOptions:
    """Generation parameters, recorded as a struct on every row (``params``) so a view can be regenerated."""

    seed: int = 42
    # Language of the templates; None = the corpus's own (``Corpus.language``: English corpora get
    # the English templates), resolved by ``in_language`` before rendering.
    language: Optional[str] = None
    ner_batch: int = 6
    re_batch: int = 4
    ee_batch: int = 4
    negative_ratio: float = 1.0
    empty_cap: float = 0.10
    subtasks: bool = True

    def batch_size(self, task: str) -> int:
        return {"NER": self.ner_batch, "RE": self.re_batch}.get(task, self.ee_batch)

    def to_dict(self) -> dict:
        return asdict(self)

    def in_language(self, language: str) -> "InstructOptions":
        """These options with ``language`` filled in when it was left to the corpus (None)."""
        return self if self.language else replace(self, language=language)


DEFAULT_LANGUAGE = "zh"  # of options rendered without a corpus (no language given)
# How each language lists the asked types in an instruction: separator, and the brackets around an
# event type's roles (``类型（角色1、角色2）`` / ``type (role 1, role 2)``).
LIST_PUNCTUATION = {"zh": ("、", "（", "）"), "en": (", ", " (", ")")}


def list_punctuation(language: Optional[str]) -> tuple:
    return LIST_PUNCTUATION.get(language or DEFAULT_LANGUAGE, LIST_PUNCTUATION[DEFAULT_LANGUAGE])


# ---------------------------------------------------------------- templates


@lru_cache(maxsize=None)
def load_templates() -> dict:
    """All templates, as ``{task: [template, ...]}``; each has id, task, language, placeholders, text."""
    out = {}
    for task, file_name in TEMPLATE_FILES.items():
        text = resources.files("instructions").joinpath(file_name).read_text(encoding="utf-8")
        out[task] = yaml.safe_load(text)
    return out


def template_placeholders(text: str) -> set:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def seeded_hash(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


@lru_cache(maxsize=None)
def template_candidates(task: str, language: str) -> tuple:
    candidates = tuple(t for t in load_templates()[task] if t["language"] == language)
    if not candidates:
        raise ValueError(f"no {language} template for task {task}")
    return candidates


def choose_template(task: str, row_id: str, seed: int = 42, language: str = "zh") -> dict:
    """The template of a row: a pure function of its id (``<record id>#<suffix>``) and the seed;
    the renderer computes the same choice for a whole table at once (``row_hashes``)."""
    candidates = template_candidates(task, language)
    record_id, _, suffix = row_id.rpartition("#")
    return candidates[int(row_hashes(hash64([record_id], seed), hash64([suffix], seed))[0] % np.uint64(len(candidates)))]


def row_hashes(record_hashes: np.ndarray, suffix_hashes: np.ndarray) -> np.ndarray:
    """The hash of rows ``<record id>#<suffix>`` from the ``hash64`` of their two parts."""
    return mix64(record_hashes ^ mix64(suffix_hashes))


# ---------------------------------------------------------------- gold answers


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector. Rendering a table allocates a few hundred thousand
    small dicts, lists and tuples, freed by reference counting; the collections their allocation
    triggers scan every tracked object each time and took a fifth of the instruct view."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dump_answer(value) -> bytes:
    """An answer as compact UTF-8 JSON (``{"人名":["张三"],"地名":[]}``): ``orjson``, several times
    faster than ``json.dumps`` and already encoded for the Arrow column; compact JSON is also fewer
    tokens to train on."""
    return orjson.dumps(value)


def describe(labels: list, display: dict, roles: dict, language: str = DEFAULT_LANGUAGE) -> str:
    """How the asked types are listed in an instruction (EE types with their roles in brackets)."""
    separator, opening, closing = list_punctuation(language)
    parts = []
    for label in labels:
        name = display.get(label, label)
        parts.append(f"{name}{opening}{separator.join(roles[label])}{closing}" if roles.get(label) else name)
    return separator.join(parts)


# ---------------------------------------------------------------- training-split statistics


def hash64(values, seed: int) -> np.ndarray:
    """A 64-bit hash of each string, keyed by ``seed``: SipHash-2-4 of the UTF-8 bytes (pandas'
    ``hash_array``), vectorized, the same on every platform and run."""
    from pandas.util import hash_array

    key = hashlib.sha256(f"chinchilla:{seed}".encode()).hexdigest()[:16]
    return hash_array(np.asarray(values, dtype=object), hash_key=key, categorize=False)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 that spreads combined hashes (``a ^ b``)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


ROW_TASKS = ("NER", "RE", "EE", "EET", "EEA")  # the tasks of instruction rows
RENDER_CHUNK = 1000  # records per Arrow table when rendering Python records
MAX_TEMPLATES = 64  # templates per (task, language), at most: pairs (prompt, template) are packed in one int
