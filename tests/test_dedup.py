"""``dedup.find_flags`` finds duplicates, train/eval leaks and cross-corpus texts with sorted digest
arrays; the flags must be those of the plain definition (a dict of the places of every text)."""

from __future__ import annotations

import random
from collections import defaultdict

import pyarrow as pa

from chinchilla_datasets import parquet_io
from chinchilla_datasets.dedup import CROSS_CORPUS, DUPLICATE, EVAL_SPLITS, LEAK, find_flags
from chinchilla_datasets.outputs import ConfigOutput


def reference_flags(splits: dict) -> dict:
    """``splits``: {(corpus, split): [text, ...]}, in build order."""
    places = defaultdict(set)
    for (corpus, split), texts in splits.items():
        for text in texts:
            places[text].add((corpus, split))
    flags = defaultdict(dict)
    for (corpus, split), texts in splits.items():
        seen = set()
        for i, text in enumerate(texts):
            row = []
            if text in seen:
                row.append(DUPLICATE)
            seen.add(text)
            if split == "train" and any(s in EVAL_SPLITS for _, s in places[text]):
                row.append(LEAK)
            if len({c for c, _ in places[text]}) > 1:
                row.append(CROSS_CORPUS)
            if row:
                flags[(f"{corpus}_unified", split)][i] = row
    return dict(flags)


def test_flags_match_the_plain_definition(tmp_path, monkeypatch):
    monkeypatch.setattr(parquet_io, "SHARD_ROWS", 7)  # several files per split: row indices run across them
    rng = random.Random(3)
    pool = [f"文本{i}" for i in range(60)] + ["", "\x00", "a\x00b"]
    splits, configs = {}, []
    for corpus in ("duee", "finre", "sanwen"):
        config = ConfigOutput(name=f"{corpus}_unified", corpus=corpus, view="unified", features=None)
        for split in ("train", "validation", "test"):
            texts = [rng.choice(pool) for _ in range(rng.randint(0, 40))]
            splits[(corpus, split)] = texts
            writer = parquet_io.ParquetSplitWriter(tmp_path, config.name, split, schema=pa.schema([("text", pa.string())]), options={}, row_group_rows=5)
            writer.write(pa.table({"text": texts}, schema=writer.schema))
            config.splits[split] = writer.close()
        configs.append(config)
    flags = find_flags(tmp_path, configs)
    expected = reference_flags(splits)
    assert {k: v for k, v in flags.items() if v} == expected
    assert any(LEAK in f for rows in expected.values() for f in rows.values())
    assert any(DUPLICATE in f for rows in expected.values() for f in rows.values())
    assert any(len(c.splits[s]["paths"]) > 1 for c in configs for s in c.splits)
