"""Atomic builds and no stale rows after a rebuild."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from chinchilla_datasets.collection import build_collection

from test_build import tree_digest


def test_rebuild_with_new_rows_is_not_served_from_the_cache(tmp_path, fixtures_dir, monkeypatch):
    """datasets caches a local folder by its card: the card must change when the rows do."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    raw = tmp_path / "raw"
    shutil.copytree(fixtures_dir / "duee", raw / "duee")
    out = tmp_path / "build" / "chinchilla"
    monkeypatch.chdir(out.parent.parent)
    build_collection(str(raw), str(out), corpora=["duee"], log=lambda _: None)
    monkeypatch.chdir(out.parent)
    first = datasets.load_dataset("chinchilla", "duee_unified", split="validation")["text"]

    dev = raw / "duee" / "duee_dev.json"
    dev.write_text(dev.read_text(encoding="utf-8").replace("红叶网络", "绿洲网络"), encoding="utf-8")
    build_collection(str(raw), str(out), corpora=["duee"], log=lambda _: None)
    second = datasets.load_dataset("chinchilla", "duee_unified", split="validation")["text"]
    assert first != second and any("绿洲网络" in t for t in second)


def test_killed_build_leaves_the_previous_build_intact(tmp_path, fixtures_dir):
    out = tmp_path / "chinchilla"
    build_collection(None, str(out), corpora=["duie"], log=lambda _: None)
    before = tree_digest(out)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chinchilla_datasets.cli", "build", "--out", str(out)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.time() + 60
    # Wait until the new build has written into its temporary folder, then kill it.
    while time.time() < deadline and not any(p.name.startswith(".chinchilla.partial-") and any(p.rglob("*.parquet")) for p in tmp_path.iterdir()):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert time.time() < deadline, "the build never started writing"
    assert tree_digest(out) == before
    ds = datasets.load_dataset(str(out), "duie_unified", split="train", cache_dir=str(tmp_path / "cache"))
    assert len(ds) > 0
