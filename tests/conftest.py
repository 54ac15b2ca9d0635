"""Shared test fixtures: the bundled fixture corpora, the real samples beside the checkout, and
builds of them made once per session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import datasets
import pytest

from chinchilla_datasets.collection import build_collection, bundled_fixtures

datasets.disable_progress_bars()

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "samples"
TOOLS = SHARED / "tools"

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not beside this checkout")


def build_views(cls, data_dir: Path, cache_dir: Path) -> dict:
    """All views of one builder: ``{view: (builder, DatasetDict)}`` (views with no split are left out)."""
    out = {}
    for view in ("raw", "unified", "instruct"):
        builder = cls(config_name=f"{cls.corpus.name}_{view}", data_dir=str(data_dir), cache_dir=str(cache_dir / view))
        try:
            builder.download_and_prepare(download_mode="force_redownload")
        except FileNotFoundError:
            continue  # e.g. only unlabelled files: no unified/instruct splits
        out[view] = (builder, builder.as_dataset())
    return out


def unified_totals(dataset) -> dict:
    """Records, entities, relations, events and event arguments of a unified split: what the
    corpus tests compare with counts taken independently from the raw files."""
    totals = dict.fromkeys(("records", "entities", "relations", "events", "arguments"), 0)
    for record in dataset:
        totals["records"] += 1
        totals["entities"] += len(record["entities"])
        totals["relations"] += len(record["relations"])
        totals["events"] += len(record["events"])
        totals["arguments"] += sum(len(e["arguments"]) for e in record["events"])
    return totals


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory) -> Path:
    """The bundled fixtures built once with ``build_collection`` into a folder named ``chinchilla``."""
    out = tmp_path_factory.mktemp("fixture_build") / "chinchilla"
    build_collection(None, str(out), log=lambda _: None)
    return out


@pytest.fixture(scope="session")
def samples_raw(tmp_path_factory) -> Path:
    """../shared/samples laid out as a user's download folder (official file names), via the shared tool."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not beside this checkout")
    dest = tmp_path_factory.mktemp("samples_raw")
    subprocess.run(["bash", str(TOOLS / "raw_from_samples.sh"), str(SAMPLES), str(dest)], check=True, capture_output=True)
    return dest


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return bundled_fixtures()


LOOP_CORPORA = ("duie", "duee", "weibo_ner")  # one RE, one EE, one NER corpus: the loop's acceptance set


@pytest.fixture(scope="session")
def loop_build(samples_raw, tmp_path_factory) -> Path:
    """DuIE, DuEE and Weibo NER built from the real samples (export -> predict -> score tests)."""
    out = tmp_path_factory.mktemp("loop_build") / "chinchilla"
    build_collection(str(samples_raw), str(out), list(LOOP_CORPORA), log=lambda _: None)
    return out
