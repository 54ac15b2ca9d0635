"""``chinchilla build`` over ``RAW/<corpus>_zh/`` written by ``chinchilla translate`` (fake server):
the translated configs, what they leave out and count, the card, the mixtures, and stock ``datasets``."""

from __future__ import annotations

import json

import datasets
import pytest

from chinchilla_datasets.cli import main
from chinchilla_datasets.collection import build_collection
from fake_openai import Reply, fake_openai  # noqa: F401  (fixture)
from test_translate import conll04_raw, sentences, uppercase_translation


def faulty_translation(messages):
    """Upper-cases like ``uppercase_translation``; the sentence of Person3 always loses its tags (a
    mention that is then not found: projection_failed), the one of Person5 always fails (HTTP 500)."""
    content = messages[-1]["content"]
    if "Person5" in content:
        return Reply.http(500)
    if "Person3" in content and "<m1>" in content:
        return "PERSON3 SMITH WORKS FOR COMPANY3 IN CITY3 ."
    if "Person3" in content or "City3" in content or "Company3" in content:
        return "SOMETHING ELSE"  # the mentions alone: not in the text
    return uppercase_translation(messages)


@pytest.fixture
def translated_build(fake_openai, tmp_path_factory):
    root = tmp_path_factory.mktemp("translated")
    raw = root / "raw"
    conll04_raw(raw, sentences(10))
    server = fake_openai(faulty_translation)
    assert main(["translate", "--data-dir", str(raw), "--corpus", "conll04", "--endpoint", server.base_url,
                 "--model", "fake-model", "--max-retries", "1", "--no-progress"]) == 0
    out = root / "chinchilla"
    report = build_collection(str(raw), str(out), log=lambda _: None)
    return root, report


def test_translated_configs_load_with_stock_datasets(translated_build, monkeypatch):
    root, report = translated_build
    monkeypatch.chdir(root)
    unified = datasets.load_dataset("chinchilla", "conll04_zh_unified", split="train")
    instruct = datasets.load_dataset("chinchilla", "conll04_zh_instruct", split="train")
    raw = datasets.load_dataset("chinchilla", "conll04_zh_raw", split="train")
    assert len(raw) == 7  # every line, the failed translation included
    failed = [r for r in raw if "translation_failed" in r["flags"]]
    assert len(failed) == 1 and failed[0]["text"] is None and "Person5" in failed[0]["source_text"]
    assert len(unified) == 6 and all("translation_failed" not in r["flags"] for r in unified)
    [unplaced] = [r for r in unified if "projection_failed" in r["flags"]]
    assert {(e["start"], e["end"]) for e in unplaced["entities"]} == {(None, None)}
    for r in unified:
        for e in r["entities"]:
            if e["start"] is not None:
                assert r["text"][e["start"]:e["end"]] == e["text"] and e["text"].isupper()
    assert unplaced["id"] not in set(instruct["record_id"])
    assert set(instruct["record_id"]) == {r["id"] for r in unified} - {unplaced["id"]}
    assert all("-zh-" in template for template in instruct["template_id"])  # Chinese templates
    mixed = datasets.load_dataset("chinchilla", "all_unified", split="train")
    assert "conll04_zh" in set(mixed["corpus"])


def test_report_counts_what_the_views_leave_out(translated_build):
    root, report = translated_build
    train = report["conll04_zh"]["train"]
    assert train["read"] == train["written"] == 7
    assert [r["reason"].split(":")[0] for r in train["unified_left_out"]] == ["translation_failed"]
    assert train["unified"] == 6 and train["instruct_left_out"] == {"projection_failed": 1}
    assert train["translated_by"] == ["fake-model"] and train["translation_failed"] == 1
    on_disk = json.loads((root / "chinchilla" / "build_report.json").read_text(encoding="utf-8"))
    assert on_disk["conll04_zh"]["train"]["unified_left_out"] == train["unified_left_out"]


def test_card_marks_the_translation_with_model_and_source_license(translated_build):
    root, _ = translated_build
    card = (root / "chinchilla" / "README.md").read_text(encoding="utf-8")
    assert "**translated** from `conll04` by `fake-model`" in card
    from builders.conll04 import CORPUS

    row = next(line for line in card.splitlines() if line.startswith("| `conll04_zh` |") and "| train |" in line)
    assert CORPUS.license.split(" (")[0] in row and "| 7 | 1 | 1 |" in row


def test_a_hand_edited_span_that_does_not_slice_is_rejected(translated_build, tmp_path):
    root, _ = translated_build
    raw = root / "raw"
    lines = (raw / "conll04_zh" / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[0])
    edited["entities"][0]["start"] += 1
    lines[0] = json.dumps(edited, ensure_ascii=False)
    (raw / "conll04_zh" / "validation.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = build_collection(str(raw), str(tmp_path / "chinchilla"), corpora=["conll04_zh"], log=lambda _: None)
    [rejected] = report["conll04_zh"]["validation"]["unified_rejected"]
    assert rejected["file"] == "validation.jsonl" and rejected["line"] == 1 and "span" in rejected["reason"]
