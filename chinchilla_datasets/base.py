"""ChinchillaBuilder: the one base class every corpus builder derives from.

It owns the three configs of a corpus (``<name>_raw``, ``<name>_unified``, ``<name>_instruct``),
``_info``, locating the files (a user's ``data_dir``, archives in it, or pinned public URLs),
split dispatch, and accounting. A corpus module supplies only its ``Corpus`` metadata, its raw
features, a ``read`` generator and a pure ``to_unified`` function; it never branches on the view.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator, Optional

import datasets

from .archives import ARCHIVE_SUFFIXES, DEFAULT_MAX_ARCHIVE_BYTES, copy_members, is_archive
from .conform import conformer
from .corpus import Corpus
from .instruct import TRAIN_SPLIT, InstructOptions, corpus_stats, render_records
from .schema import INSTRUCT_FEATURES, UNIFIED_FEATURES, VIEWS, empty_record
from .sources import Reject, SourceError, short_reason, sniff_encoding

# With num_proc > 1, a source file of at least this size whose records are one per line is cut into
# num_proc line shards that datasets generates in parallel (smaller files: not worth a process).
SHARD_MIN_BYTES = 8 << 20


class LeftOut(Exception):
    """Raised by ``to_unified`` for a valid raw record that has no place in the unified and instruct
    views (a translation that failed): counted in the report under ``unified_left_out`` with the
    reason, never dropped silently."""


@dataclass
class ChinchillaConfig(datasets.BuilderConfig):
    """A view of a corpus: ``raw``, ``unified`` or ``instruct``."""

    view: str = "unified"
    options: InstructOptions = InstructOptions()


def find_files(root: str, names: list, open_archive=None) -> dict:
    """Map each wanted file name to a path under ``root``, shallowest first; when files are
    missing, the archives in ``root`` are searched with ``open_archive(path) -> {name: path}``
    (e.g. :meth:`ChinchillaBuilder.archive_files`, which never extracts them).
    A wanted name may be a folder (CASIE's ``annotation/``: one file per document)."""
    found: dict = {}
    if os.path.isdir(root):
        for dirpath, dirnames, filenames in sorted(os.walk(root), key=lambda w: (w[0].count(os.sep), w[0])):
            dirnames.sort()
            for name in sorted(filenames + dirnames):
                if name in names and name not in found:
                    found[name] = os.path.join(dirpath, name)
        if open_archive is not None and len(found) < len(names):
            for name in sorted(os.listdir(root)):
                if is_archive(name) and os.path.isfile(os.path.join(root, name)):
                    for inner, path in open_archive(os.path.join(root, name)).items():
                        found.setdefault(inner, path)
    return found


def source_encoding(path: str) -> str:
    """The encoding a split's source is read in, for the report: a file's, or for a folder of one
    file per document (CASIE's ``annotation/``) the encodings of its files, comma-separated."""
    if not os.path.isdir(path):
        return sniff_encoding(path)
    names = sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
    return ",".join(sorted({sniff_encoding(os.path.join(path, n)) for n in names})) or "no file"


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
    # One source line is one record (JSON Lines, one sentence per line): a file can be cut into
    # line shards between any two lines and built in parallel (``num_proc``).
    one_record_per_line: bool = False
    # Unified records carrying any of these flags are kept in the unified view but left out of the
    # instruct view (translations with a span left unplaced: a row that misses a gold mention
    # teaches the model to miss it); counted per flag under ``instruct_left_out``.
    instruct_excluded_flags: frozenset = frozenset()
    # Cap on each archive member copied and on an archive's copied total (``--max-archive-bytes``).
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    # What a record's ``line`` (in the report and its id) counts: ``line``, the line of its file it
    # starts on; ``position``, its 1-based position in a file holding one JSON array, often on one
    # line (CoNLL04); ``document``, the number naming its file in a folder of one file per document (CASIE).
    record_unit: str = "line"
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
        self.num_proc = 1
        self.shard_dir: Optional[str] = None  # line shards and their reports, while preparing with num_proc > 1
        self.split_parts: dict = {}  # split -> [path, ...]: its file, or every part present of a joined split
        self.archive_notes: list = []  # archive members skipped (links, devices, FIFOs, unsafe names)

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

    def download_and_prepare(self, *args, num_proc: Optional[int] = None, **kwargs):
        """``datasets``' own, plus: with ``num_proc > 1``, large one-record-per-line files are cut
        into line shards generated in parallel (same rows, ids and order as ``num_proc=1``); the
        workers' reports come back through files and are merged into ``self.report``."""
        self.num_proc = num_proc or 1
        if self.num_proc > 1:
            os.makedirs(self._cache_dir_root, exist_ok=True)
            self.shard_dir = tempfile.mkdtemp(prefix=f".{self.config.name}-shards-", dir=self._cache_dir_root)
        try:
            super().download_and_prepare(*args, num_proc=num_proc, **kwargs)
            if self.shard_dir:
                self.report = self.merged_reports()
        finally:
            if self.shard_dir:
                shutil.rmtree(self.shard_dir, ignore_errors=True)
                self.shard_dir = None

    def shardable(self, path: str) -> bool:
        """Whether a source file can be cut between any two lines (at ``\\n`` bytes: not UTF-16)."""
        return self.one_record_per_line and not self.group_by and not sniff_encoding(path).startswith("utf-16")

    def split_shards(self, paths: list) -> list:
        """``[(file, lines before it in its part, part, key offset), ...]`` of a split read from
        ``paths`` (one file, or the parts of a joined split in order). Keys (and so ids) number the
        lines of the parts as if they were one file: a part's keys follow the last line of the part
        before it; rejections name the part and its own line."""
        return [
            (shard, lines, part, key_offset)
            for part, key_offset in part_offsets(paths)
            for shard, lines in self.line_shards(part)
        ]

    def line_shards(self, path: str) -> list:
        """``[(file, lines before it), ...]``: ``path`` itself, or its line shards (copies in the
        shard folder) when preparing with ``num_proc > 1``."""
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if not self.shard_dir or size < SHARD_MIN_BYTES or not self.shardable(path):
            return [(path, 0)]
        cuts = set()
        with open(path, "rb") as f:
            for i in range(1, self.num_proc):
                f.seek(size * i // self.num_proc)
                f.readline()  # to the start of the next line
                if 0 < f.tell() < size:
                    cuts.add(f.tell())
        shards, lines = [], 0
        with open(path, "rb") as f:
            for start, end in zip([0, *sorted(cuts)], [*sorted(cuts), size]):
                shard = os.path.join(self.shard_dir, f"{os.path.basename(path)}.{start:012d}")
                shards.append((shard, lines))
                with open(shard, "wb") as out:
                    remaining = end - start
                    while remaining:
                        chunk = f.read(min(remaining, 1 << 20))
                        out.write(chunk)
                        remaining -= len(chunk)
                        lines += chunk.count(b"\n")
        return shards

    def merged_reports(self) -> dict:
        """The reports the shard jobs wrote, merged per split in file order."""
        merged: dict = {}
        for name in sorted(os.listdir(self.shard_dir)):
            if not name.endswith(".report.json"):
                continue
            with open(os.path.join(self.shard_dir, name), encoding="utf-8") as f:
                piece = json.load(f)
            into = merged.setdefault(piece["split"], {})
            for key, value in piece["report"].items():
                if isinstance(value, str):  # the encoding: the same in every shard
                    into.setdefault(key, value)
                else:
                    into[key] = into.get(key, [] if isinstance(value, list) else 0) + value
        return merged

    def _split_generators(self, dl_manager):
        # The splits and files ``locate_files`` returns (a corpus may override it to drop some), with
        # the further parts of a joined split.
        split_files = {
            split: self.split_parts[split] if self.split_parts.get(split, [None])[0] == path else [path]
            for split, path in self.locate_files(dl_manager).items()
        }
        # ``parts`` is a tuple: datasets cuts list arguments (``shards``) between jobs, not tuples.
        generators = [
            datasets.SplitGenerator(
                name=split, gen_kwargs={"split": split, "shards": self.split_shards(paths), "parts": tuple(paths)}
            )
            for split, paths in split_files.items()
            if self.config.view == "raw" or split not in self.corpus.unlabelled_splits
        ]
        if not generators:
            raise FileNotFoundError(
                f"{self.corpus.name}: no labelled split file for the {self.config.view} view; "
                f"expected {', '.join(self.corpus.expected_files())}"
            )
        return generators

    def _generate_examples(self, split: str, shards: list, parts: tuple):
        """The examples of ``shards`` (see :meth:`split_shards`) of the split read from ``parts``;
        datasets hands each job a run of them."""
        view = self.config.view
        if self.shard_dir:
            self.report.pop(split, None)  # a worker reports only its own shards
        for shard, offset, part, key_offset in shards:
            if view == "raw":
                yield from self.raw_records(shard, split, offset, source=part, key_offset=key_offset)
            elif view == "unified":
                yield from self.unified_records(shard, split, offset, source=part, key_offset=key_offset)
            else:
                yield from self.instruct_rows(shard, split, offset, source=part, key_offset=key_offset, parts=parts)
        if self.shard_dir and split in self.report:
            name = f"{split}.{shards[0][1] + shards[0][3]:012d}.report.json"
            with open(os.path.join(self.shard_dir, name), "w", encoding="utf-8") as f:
                json.dump({"split": split, "report": self.report[split]}, f, ensure_ascii=False)

    # ------------------------------------------------------------------ files
    def locate_files(self, dl_manager) -> dict:
        """``{split: path}`` of the split files present (a split with no file present is skipped):
        the first candidate found. Every part present of a joined split is in ``self.split_parts``
        (``{split: [path, ...]}``, set here), which the split generators read."""
        names = self.corpus.expected_files()
        self.archive_notes = []
        if self.config.data_dir:
            found = find_files(self.config.data_dir, names, open_archive=self.archive_files)
            where = self.config.data_dir
        elif self.corpus.urls:
            found = {}
            for name, path in dl_manager.download(dict(self.corpus.urls)).items():
                if name.endswith(ARCHIVE_SUFFIXES):  # e.g. an official zip: look inside
                    for inner, inner_path in self.archive_files(path).items():
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
            present = [found[name] for name in candidates if name in found]
            if present:
                split_files[split] = present if split in self.corpus.joined_splits else present[:1]
        if not split_files:
            raise FileNotFoundError(self.corpus.missing_message(where))
        # split -> its file; the further parts of a joined split under "<split>:<file name>".
        self.source_files = {}
        for split, paths in split_files.items():
            self.source_files[split] = paths[0]
            for path in paths[1:]:
                self.source_files[f"{split}:{os.path.basename(path)}"] = path
        if self.schema_path:
            self.source_files["schema"] = self.schema_path
        self.split_parts = split_files
        return {split: paths[0] for split, paths in split_files.items()}

    def archive_files(self, archive: str) -> dict:
        """``{file name: path}`` of the corpus's files in ``archive``, copied (never extracted, see
        ``archives.py``) into a private folder of this builder's cache, keyed by the archive's
        path, size and time; notes on skipped members go to ``self.archive_notes``."""
        names = self.corpus.expected_files()
        info = os.stat(archive)
        key = hashlib.sha256(
            json.dumps([os.path.abspath(archive), info.st_size, info.st_mtime_ns, names, self.max_archive_bytes]).encode()
        ).hexdigest()[:20]
        folder = os.path.join(self._cache_dir_root, "chinchilla-archives", key)
        done = os.path.join(folder, ".contents.json")
        if not os.path.isfile(done):
            os.makedirs(os.path.dirname(folder), exist_ok=True)
            scratch = tempfile.mkdtemp(prefix=f".{key}-", dir=os.path.dirname(folder))
            try:
                contents = copy_members(archive, names, scratch, self.max_archive_bytes)
                files = {name: os.path.basename(path) for name, path in contents.files.items()}
                with open(os.path.join(scratch, ".contents.json"), "w", encoding="utf-8") as f:
                    json.dump({"files": files, "notes": contents.notes}, f, ensure_ascii=False)
                shutil.rmtree(folder, ignore_errors=True)
                try:
                    os.replace(scratch, folder)
                except OSError:
                    if not os.path.isfile(done):  # (else another process copied it meanwhile)
                        raise
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        with open(done, encoding="utf-8") as f:
            contents = json.load(f)
        self.archive_notes.extend(n for n in contents["notes"] if n not in self.archive_notes)
        return {name: os.path.join(folder, base) for name, base in contents["files"].items()}

    # ------------------------------------------------------------------ views
    def raw_records(
        self, path: str, split: str, offset: int = 0, source: Optional[str] = None, key_offset: int = 0
    ) -> Iterator[tuple]:
        """``(key, raw)`` of every valid record; rejects are counted in ``self.report``.
        ``path`` may be a line shard of the file ``source``, starting after ``offset`` lines; the key
        is the record's line in ``source`` plus ``key_offset`` (the lines of the parts before it)."""
        report = self.report.setdefault(split, {"read": 0, "written": 0, "rejected": []})
        report.setdefault("encoding", source_encoding(source or path))
        optional = self.optional_keys | (self.label_keys if split in self.corpus.unlabelled_splits else frozenset())
        file_name = os.path.basename(source or path)
        check = conformer(self.raw_features, optional)  # compiled once per split
        for line_no, item in self.read(path, split):
            line_no += offset
            report["read"] += 1
            if not isinstance(item, Reject):
                try:
                    item = check(item)
                except ValueError as err:
                    item = Reject(str(err))
            if isinstance(item, Reject):
                report["rejected"].append({"file": file_name, "line": line_no, "reason": short_reason(item.reason)})
                continue
            report["written"] += 1
            yield line_no + key_offset, item

    def unified_records(
        self, path: str, split: str, offset: int = 0, source: Optional[str] = None, key_offset: int = 0
    ) -> Iterator[tuple]:
        """``(key, unified record)``; records that fail conversion are rejected with the reason."""
        name, task = self.corpus.name, self.corpus.task
        raws = self.raw_records(path, split, offset, source, key_offset)
        if self.group_by:
            groups: OrderedDict = OrderedDict()
            for line_no, raw in raws:
                groups.setdefault(raw[self.group_by], (line_no, []))[1].append(raw)
            raws = iter(groups.values())
        report = self.report.setdefault(split, {"read": 0, "written": 0, "rejected": []})
        # (several calls per split add up: the line shards, or the parts of a joined split)
        report.setdefault("unified", 0)
        report.setdefault("unified_rejected", [])
        report.setdefault("unified_left_out", [])
        for line_no, raw in raws:
            try:
                record = self.to_unified(raw)
            except LeftOut as reason:
                report["unified_left_out"].append({"file": os.path.basename(source or path), "line": line_no - key_offset, "reason": str(reason)})
                continue
            except (KeyError, TypeError, ValueError, IndexError) as err:
                report["unified_rejected"].append(
                    {
                        "file": os.path.basename(source or path),
                        "line": line_no - key_offset,
                        "reason": short_reason(f"cannot convert: {type(err).__name__}: {err}"),
                    }
                )
                continue
            record["id"] = f"{name}-{split}-{line_no}"
            record["corpus"] = name
            record["task"] = task
            report["unified"] += 1
            yield line_no, record

    def instruct_rows(
        self, path: str, split: str, offset: int = 0, source: Optional[str] = None, key_offset: int = 0, parts: tuple = ()
    ) -> Iterator[tuple]:
        schema = self.label_schema()
        stats = self.instruct_stats(parts or (source or path,), split, schema)  # statistics of the whole split
        records = (record for _, record in self.unified_records(path, split, offset, source, key_offset))
        if self.instruct_excluded_flags:
            records = (r for r in records if not self.instruct_excluded_flags.intersection(r["flags"]))
        options = self.config.options.in_language(self.corpus.language)  # English corpora: English templates
        for row in render_records(records, split, schema, options, stats):
            yield row["id"], row

    def instruct_stats(self, parts: tuple, split: str, schema: dict) -> Optional[dict]:
        """Training-split statistics for negative sampling and the empty-row cap (a pre-pass over
        the split's files ``parts``)."""
        if split != TRAIN_SPLIT:
            return None
        records = (
            record
            for part, key_offset in part_offsets(parts)
            for _, record in self.unified_records(part, split, key_offset=key_offset)
        )
        if self.instruct_excluded_flags:
            records = (r for r in records if not self.instruct_excluded_flags.intersection(r["flags"]))
        stats = corpus_stats(records, schema, self.config.options)
        self.report.pop(split, None)  # the pre-pass must not count the split twice
        return stats

    # ------------------------------------------------------------------ label schema
    def label_schema(self) -> dict:
        """The label set the instructions list: the schema file when present, else the corpus's
        label table. (Answers still carry a type missing from both, after the listed ones.)"""
        if self.schema_path:
            return self.read_schema(self.schema_path)
        if self.corpus.labels:
            return {"types": [[k, v] for k, v in self.corpus.labels.items()], "roles": dict(self.corpus.roles)}
        raise FileNotFoundError(
            f"{self.corpus.name}: the instruction view needs {self.corpus.schema_file} beside the split files"
        )


def part_offsets(paths) -> list:
    """``[(path, key offset)]``: each part of a split with the number of lines of the parts before it
    (a split of one file is not read here)."""
    out, key_offset = [], 0
    for i, path in enumerate(paths):
        out.append((path, key_offset))
        if i + 1 < len(paths):
            key_offset += count_lines(path)
    return out


def count_lines(path: str) -> int:
    """The number of lines of a file (a last line without a newline counts). Raises
    :class:`SourceError` when the file cannot be read, as the readers do."""
    lines, last = 0, b"\n"
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError as err:
        raise SourceError(f"{os.path.basename(path)}: cannot read: {err.strerror or err}") from err
    return lines + (last != b"\n")


def unified_record(text: str, entities=(), relations=(), events=(), flags=()) -> dict:
    """A unified record body (the base sets id, corpus and task)."""
    record = empty_record("", "", "", text)
    record["entities"] = list(entities)
    record["relations"] = list(relations)
    record["events"] = list(events)
    record["flags"] = list(flags)
    return record
