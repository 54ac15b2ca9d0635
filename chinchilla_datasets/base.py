"""ChinchillaBuilder: the one base class every corpus builder derives from.

It owns the three configs of a corpus (``<name>_raw``, ``<name>_unified``, ``<name>_instruct``),
``_info``, locating the files (a user's ``data_dir``, archives in it, or pinned public URLs),
split dispatch, and accounting. A corpus module supplies only its ``Corpus`` metadata, its raw
features, a ``read`` generator and a pure ``to_unified`` function; it never branches on the view.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator, Optional

import datasets

from .conform import conformer
from .corpus import Corpus
from .instruct import TRAIN_SPLIT, InstructOptions, corpus_stats, render_records
from .schema import INSTRUCT_FEATURES, UNIFIED_FEATURES, VIEWS, empty_record
from .sources import Reject

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


@dataclass
class ChinchillaConfig(datasets.BuilderConfig):
    """A view of a corpus: ``raw``, ``unified`` or ``instruct``."""

    view: str = "unified"
    options: InstructOptions = InstructOptions()


def find_files(root: str, names: list, extract=None) -> dict:
    """Map each wanted file name to a path under ``root``, shallowest first; archives in ``root``
    are extracted (with ``extract``, e.g. ``dl_manager.extract``) and searched when files are missing."""
    found: dict = {}

    def walk(top: str) -> None:
        for dirpath, dirnames, filenames in sorted(os.walk(top), key=lambda w: (w[0].count(os.sep), w[0])):
            dirnames.sort()
            for name in sorted(filenames):
                if name in names and name not in found:
                    found[name] = os.path.join(dirpath, name)

    if os.path.isdir(root):
        walk(root)
        if extract is not None and len(found) < len(names):
            for name in sorted(os.listdir(root)):
                if name.endswith(ARCHIVE_SUFFIXES):
                    walk(extract(os.path.join(root, name)))
    return found


def is_plain(feature) -> bool:
    """True for trees of Value / List / dict only: nothing in them needs per-example encoding."""
    if isinstance(feature, dict):
        return all(is_plain(f) for f in feature.values())
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        return is_plain(feature.feature)
    return isinstance(feature, datasets.Value)


class PlainFeatures(datasets.Features):
    """Features of Value / List / dict only, whose examples already hold the declared Python types
    (raw: checked by ``conformer``; unified and instruct: built by this package).

    ``GeneratorBasedBuilder`` calls ``info.features.encode_example`` on every example; for such
    features it walks the whole nested record only to rebuild it unchanged (half of a raw build's
    time). Here it keeps the schema's top-level keys and leaves the values to the Arrow writer,
    which still raises on a value of the wrong type (where ``encode_example`` would coerce it)."""

    def encode_example(self, example):
        return {key: example.get(key) for key in self}


class ChinchillaBuilder(datasets.GeneratorBasedBuilder):
    """Base of every corpus builder; see the module docstring."""

    corpus: Corpus = None
    raw_features: datasets.Features = None
    # Dotted paths of raw keys that may be absent (filled with None), e.g. labels of unlabelled splits.
    optional_keys: frozenset = frozenset()
    # Raw keys holding the annotations: absent (None) in the unlabelled splits.
    label_keys: frozenset = frozenset()
    # Raw field whose equal values are merged into one unified record (SanWen/FinRE: the sentence).
    group_by: Optional[str] = None
    BUILDER_CONFIG_CLASS = ChinchillaConfig

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        corpus = cls.__dict__.get("corpus")
        if corpus is not None:
            cls.BUILDER_CONFIGS = [
                ChinchillaConfig(name=f"{corpus.name}_{view}", view=view, description=f"{corpus.title}, {view} view")
                for view in VIEWS
            ]
            cls.DEFAULT_CONFIG_NAME = f"{corpus.name}_unified"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # split -> {"read", "written", "rejected": [{"file", "line", "reason"}]} for the view generated.
        self.report: dict = {}
        self.schema_path: Optional[str] = None
        self.source_files: dict = {}  # split -> path of the file read (for provenance)

    # ------------------------------------------------------------------ corpus hooks
    def read(self, path: str, split: str) -> Iterator[tuple]:
        """Yield ``(line_no, raw_record)`` or ``(line_no, Reject)`` for one source file."""
        raise NotImplementedError

    def to_unified(self, raw) -> dict:
        """Convert one raw record (a list of them when ``group_by`` is set) to a unified record
        without ``id``/``corpus``/``task`` (the base adds those); see :func:`unified_record`."""
        raise NotImplementedError

    def read_schema(self, path: str) -> dict:
        """Parse the corpus's schema file into ``{"types": [[label, display], ...], "roles": {...}}``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ datasets API
    @property
    def manual_download_instructions(self) -> Optional[str]:
        if not self.corpus.manual:
            return None
        return (
            f"{self.corpus.title} is distributed after registration at {self.corpus.homepage} . "
            f"Log in, accept the terms, download the archive and put it (or the files "
            f"{', '.join(self.corpus.expected_files())}) in a folder, then pass that folder as data_dir "
            f"(or as RAW/{self.corpus.name}/ to `chinchilla build --data-dir RAW`)."
        )

    def _info(self) -> datasets.DatasetInfo:
        features = {"raw": self.raw_features, "unified": UNIFIED_FEATURES, "instruct": INSTRUCT_FEATURES}[self.config.view]
        return datasets.DatasetInfo(
            description=self.corpus.description or self.corpus.title,
            features=PlainFeatures(features) if is_plain(features) else features,
            homepage=self.corpus.homepage,
            license=self.corpus.license,
            citation=self.corpus.citation,
        )

    def _split_generators(self, dl_manager):
        split_files = self.locate_files(dl_manager)
        generators = [
            datasets.SplitGenerator(name=split, gen_kwargs={"path": path, "split": split})
            for split, path in split_files.items()
            if self.config.view == "raw" or split not in self.corpus.unlabelled_splits
        ]
        if not generators:
            raise FileNotFoundError(
                f"{self.corpus.name}: no labelled split file for the {self.config.view} view; "
                f"expected {', '.join(self.corpus.expected_files())}"
            )
        return generators

    def _generate_examples(self, path: str, split: str):
        view = self.config.view
        if view == "raw":
            yield from self.raw_records(path, split)
        elif view == "unified":
            yield from self.unified_records(path, split)
        else:
            yield from self.instruct_rows(path, split)

    # ------------------------------------------------------------------ files
    def locate_files(self, dl_manager) -> dict:
        """``{split: path}`` of the split files present (a split whose file is absent is skipped)."""
        names = self.corpus.expected_files()
        if self.config.data_dir:
            found = find_files(self.config.data_dir, names, extract=dl_manager.extract)
            where = self.config.data_dir
        elif self.corpus.urls:
            found = {}
            for name, path in dl_manager.download(dict(self.corpus.urls)).items():
                if name.endswith(ARCHIVE_SUFFIXES):  # e.g. an official zip: look inside
                    for inner, inner_path in find_files(dl_manager.extract(path), names).items():
                        found.setdefault(inner, inner_path)
                else:
                    found[name] = path
            where = "the pinned download URLs"
        else:
            raise datasets.exceptions.ManualDownloadError(self.manual_download_instructions)
        if self.corpus.schema_file:
            self.schema_path = found.get(self.corpus.schema_file)
        split_files = {}
        for split, candidates in self.corpus.files.items():
            for name in candidates:
                if name in found:
                    split_files[split] = found[name]
                    break
        if not split_files:
            raise FileNotFoundError(self.corpus.missing_message(where))
        self.source_files = dict(split_files)
        if self.schema_path:
            self.source_files["schema"] = self.schema_path
        return split_files

    # ------------------------------------------------------------------ views
    def raw_records(self, path: str, split: str) -> Iterator[tuple]:
        """``(line_no, raw)`` of every valid record; rejects are counted in ``self.report``."""
        report = self.report.setdefault(split, {"read": 0, "written": 0, "rejected": []})
        optional = self.optional_keys | (self.label_keys if split in self.corpus.unlabelled_splits else frozenset())
        file_name = os.path.basename(path)
        check = conformer(self.raw_features, optional)  # compiled once per split
        for line_no, item in self.read(path, split):
            report["read"] += 1
            if not isinstance(item, Reject):
                try:
                    item = check(item)
                except ValueError as err:
                    item = Reject(str(err))
            if isinstance(item, Reject):
                report["rejected"].append({"file": file_name, "line": line_no, "reason": item.reason})
                continue
            report["written"] += 1
            yield line_no, item

    def unified_records(self, path: str, split: str) -> Iterator[tuple]:
        """``(key, unified record)``; records that fail conversion are rejected with the reason."""
        name, task = self.corpus.name, self.corpus.task
        raws = self.raw_records(path, split)
        if self.group_by:
            groups: OrderedDict = OrderedDict()
            for line_no, raw in raws:
                groups.setdefault(raw[self.group_by], (line_no, []))[1].append(raw)
            raws = iter(groups.values())
        report = self.report.setdefault(split, {"read": 0, "written": 0, "rejected": []})
        report.update(unified=0, unified_rejected=[])
        for line_no, raw in raws:
            try:
                record = self.to_unified(raw)
            except (KeyError, TypeError, ValueError, IndexError) as err:
                report["unified_rejected"].append(
                    {"file": os.path.basename(path), "line": line_no, "reason": f"cannot convert: {type(err).__name__}: {err}"}
                )
                continue
            record["id"] = f"{name}-{split}-{line_no}"
            record["corpus"] = name
            record["task"] = task
            report["unified"] += 1
            yield line_no, record

    def instruct_rows(self, path: str, split: str) -> Iterator[tuple]:
        schema = self.label_schema()
        stats = self.instruct_stats(path, split, schema)
        records = (record for _, record in self.unified_records(path, split))
        for row in render_records(records, split, schema, self.config.options, stats):
            yield row["id"], row

    def instruct_stats(self, path: str, split: str, schema: dict) -> Optional[dict]:
        """Training-split statistics for negative sampling and the empty-row cap (a pre-pass)."""
        if split != TRAIN_SPLIT:
            return None
        stats = corpus_stats((r for _, r in self.unified_records(path, split)), schema, self.config.options)
        self.report.pop(split, None)  # the pre-pass must not count the split twice
        return stats

    # ------------------------------------------------------------------ label schema
    def label_schema(self) -> dict:
        """The label set the instructions list: the schema file when present, else the corpus's
        label table. (Answers still carry a type missing from both, after the listed ones.)"""
        if self.schema_path:
            return self.read_schema(self.schema_path)
        if self.corpus.labels:
            return {"types": [[k, v] for k, v in self.corpus.labels.items()], "roles": {}}
        raise FileNotFoundError(
            f"{self.corpus.name}: the instruction view needs {self.corpus.schema_file} beside the split files"
        )


def unified_record(text: str, entities=(), relations=(), events=(), flags=()) -> dict:
    """A unified record body (the base sets id, corpus and task)."""
    record = empty_record("", "", "", text)
    record["entities"] = list(entities)
    record["relations"] = list(relations)
    record["events"] = list(events)
    record["flags"] = list(flags)
    return record
