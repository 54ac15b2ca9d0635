"""The mixture configs (all_unified, all_instruct) are read from the corpora's Parquet files batch by
batch and shuffled through bucket files; their rows must be exactly those of the stock ``datasets``
recipe: each corpus's split capped (the rows whose record id hashes smallest), concatenated, then
``shuffle(seed).flatten_indices()``."""

from __future__ import annotations

import hashlib
import json
import shutil

import datasets
import pyarrow.parquet as pq
import pytest

from chinchilla_datasets import mixtures as mixture_module
from chinchilla_datasets import parquet_io
from chinchilla_datasets.outputs import split_order, split_paths
from chinchilla_datasets.card import read_build
from chinchilla_datasets.schema import INSTRUCT_FEATURES, UNIFIED_FEATURES


def reference_mixture(out, results, view, features, split, seed, cap) -> list:
    """The mixture split as the collection made it with ``datasets`` operations."""
    parts = []
    for result in results:
        for config in result.configs:
            if config.view != view or split not in config.splits:
                continue
            ds = datasets.concatenate_datasets(
                [datasets.Dataset.from_parquet(str(out / path), features=features) for path in split_paths(config.splits[split])]
            )
            if cap is not None and len(ds) > cap:
                keys = ds["record_id" if view == "instruct" else "id"]
                digest = lambda key: hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8]  # noqa: E731
                order = sorted(range(len(ds)), key=lambda i: (digest(keys[i]), i))
                ds = ds.select(sorted(order[:cap]))
            parts.append(ds)
    mixed = datasets.concatenate_datasets(parts).shuffle(seed=seed).flatten_indices()
    return [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in mixed]


def rows(out, entry) -> list:
    return [json.dumps(row, ensure_ascii=False, sort_keys=True) for path in split_paths(entry) for row in pq.read_table(out / path).to_pylist()]


@pytest.mark.parametrize("row_group_rows,max_buckets", [(10_000, 256), (7, 3)])
def test_mixture_rows_are_the_datasets_recipe(fixture_build, tmp_path, monkeypatch, row_group_rows, max_buckets):
    """Small row groups and few buckets make every path run: several buckets, several output row
    groups per bucket, caps that keep a few rows of each corpus."""
    datasets.disable_caching()
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setattr(parquet_io, "ROW_GROUP_ROWS", row_group_rows)
    monkeypatch.setattr(mixture_module, "MAX_BUCKETS", max_buckets)
    out = tmp_path / "chinchilla"
    shutil.copytree(fixture_build, out)
    results = [r for r in read_build(out).results if r.name != mixture_module.MIXTURE]
    caps = {"train": 5, "validation": None}
    mixtures = {c.view: c for c in mixture_module.build_mixtures(out, results, seed=7, caps=caps)}
    assert set(mixtures) == {"unified", "instruct"}
    for view, features in (("unified", UNIFIED_FEATURES), ("instruct", INSTRUCT_FEATURES)):
        config = mixtures[view]
        assert list(config.splits) == sorted(config.splits, key=split_order)
        for split, entry in config.splits.items():
            chinese = [r for r in results if mixture_module.corpus_language(r.name) == mixture_module.MIXTURE_LANGUAGE]  # English sources stay out
            expected = reference_mixture(out, chinese, view, features, split, 7, caps.get(split))
            assert rows(out, entry) == expected, f"{view}/{split}"
            assert entry["num_examples"] == len(expected)
            for path in split_paths(entry):
                groups = pq.ParquetFile(out / path).metadata
                assert all(groups.row_group(i).num_rows <= row_group_rows for i in range(groups.num_row_groups))
    assert not list(tmp_path.glob("chinchilla/*/.*.tmp"))
