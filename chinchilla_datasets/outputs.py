"""What a build produced, as plain data: the outputs of each corpus and config, the report file's
name, and the paths of a split's Parquet files.

The build loop (``collection``) fills these in; the flags (``dedup``), the card (``card``),
``publish`` and ``audit`` read them. It imports nothing of the library, so every floor may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import datasets

REPORT_FILE = "build_report.json"
# Key of build_report.json beside the corpora: {corpus: {"failed": one line} and/or
# {"archive_members_skipped": [lines]}} for corpora whose sources could not be read whole.
PROBLEMS = "problems"


@dataclass
class ConfigOutput:
    """One written config: its features and, per split, the Parquet file and sizes."""

    name: str
    corpus: str
    view: str
    features: datasets.Features
    splits: dict = field(default_factory=dict)  # split -> {"paths", "num_examples", "num_bytes"}


@dataclass
class CorpusOutput:
    name: str
    configs: list
    report: dict  # split -> counts and rejections
    sources: dict  # file name -> sha256
    schema: Optional[dict] = None
    notes: list = field(default_factory=list)  # archive members skipped (links, devices, FIFOs)


@dataclass
class CorpusFailure:
    """A corpus whose source could not be read (a ``sources.SourceError``): one line saying why."""

    name: str
    reason: str


def split_paths(entry: dict) -> list:
    """The Parquet files of a split entry (paths relative to the built folder), in row order.
    Entries hold ``paths``; a card's ``data_files`` entry holds ``path``, a string or a list."""
    paths = entry["paths"] if "paths" in entry else entry["path"]
    return [paths] if isinstance(paths, str) else list(paths)


def split_order(split: str) -> tuple:
    """Sort key of split names: train, validation, test, then the others by name."""
    order = {"train": 0, "validation": 1, "test": 2}
    return (order.get(split, 3), split)

