"""The one place that touches private ``datasets`` internals.

Chinchilla writes Parquet the way ``Dataset.to_parquet`` / ``push_to_hub`` do, reads a dataset's
Arrow cache files without its memory map, and writes the card's YAML the way ``datasets`` reads
it back. ``datasets`` offers no public API for these, so they reach into its modules
(``datasets.table``, ``datasets.arrow_writer``, ``datasets.config``, ``datasets.info``,
``datasets.utils.metadata``) and attributes (``Dataset._indices``, ``MemoryMappedTable.replays``).
They are gathered here so that an upgrade of ``datasets`` breaks in one file, and
``tests/test_architecture.py`` checks that no other module of the library uses them.

Checked against datasets 5.2.0 and pyarrow 26.0.1 (the byte-identical build of the sample
corpora and the full test suite); ``pyproject.toml`` requires datasets>=4.7.
"""

from __future__ import annotations

from typing import Optional

import datasets
import pyarrow as pa
from datasets.arrow_writer import get_arrow_writer_batch_size_from_features, get_parquet_column_options
from datasets.info import DatasetInfosDict
from datasets.table import ConcatenationTable, InMemoryTable, MemoryMappedTable, table_cast
from datasets.utils.metadata import MetadataConfigs

__all__ = [
    "DatasetInfosDict",
    "MetadataConfigs",
    "arrow_writer_batch_size",
    "cache_file_paths",
    "cast_table",
    "default_cdc_options",
    "in_memory_dataset",
    "parquet_column_options",
]


def cache_file_paths(ds: datasets.Dataset) -> Optional[list]:
    """The Arrow files whose record batches, concatenated, are exactly the rows of ``ds``; None
    when the dataset is anything else (an indices mapping, in memory, sliced or cast). Replacing the
    schema metadata (``datasets`` records the features there) does not change rows."""
    if ds._indices is not None:
        return None
    table = ds.data
    blocks = table.blocks if isinstance(table, ConcatenationTable) else [[table]]
    paths = []
    for row in blocks:
        if len(row) != 1 or not isinstance(row[0], MemoryMappedTable):
            return None
        if any(name != "replace_schema_metadata" for name, _, _ in row[0].replays):
            return None
        paths.append(row[0].path)
    return paths


def in_memory_dataset(table: pa.Table, fingerprint: str) -> datasets.Dataset:
    """A ``Dataset`` over an Arrow table held in memory, with the fingerprint given (not hashed)."""
    return datasets.Dataset(InMemoryTable(table), fingerprint=fingerprint)


def cast_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema`` the way ``datasets`` casts (nested and extension types included)."""
    return table_cast(table, schema)


def default_cdc_options():
    """The content-defined chunking options ``datasets`` gives its Parquet writer."""
    return datasets.config.DEFAULT_CDC_OPTIONS


def parquet_column_options(features: datasets.Features, schema: pa.Schema) -> dict:
    """The per-column Parquet writer options ``Dataset.to_parquet`` uses for ``features``."""
    return get_parquet_column_options(features, schema)


def arrow_writer_batch_size(features: datasets.Features) -> int:
    """The record batch size of a ``datasets`` Arrow cache file written with ``features``."""
    return get_arrow_writer_batch_size_from_features(features) or datasets.config.DEFAULT_MAX_BATCH_SIZE
