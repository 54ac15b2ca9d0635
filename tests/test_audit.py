"""``chinchilla audit``: accounting balances and duplicates/leaks are found."""

from __future__ import annotations

import json
import shutil

from chinchilla_datasets.audit import audit, span_audit
from chinchilla_datasets.cli import main
from chinchilla_datasets.collection import build_collection


def test_audit_balances_on_the_fixture_build(fixture_build, capsys):
    assert main(["audit", str(fixture_build), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accounting"] and all(a["balanced"] for a in result["accounting"])
    assert {a["corpus"] for a in result["accounting"]} >= {"duie", "duee", "duee_fin", "sanwen"}
    duie = result["spans"]["duie_unified"]
    assert duie["spans"] == duie["spans_with_offsets"] + duie.get("null_spans", 0) > 0
    assert duie["spans_with_offsets"] == duie.get("spans_unique_mention", 0) + duie.get("spans_repeated_mention", 0)
    assert duie["spans_repeated_mention"] > 0 and duie["records_ambiguous_span"] > 0  # 《北岭》 occurs twice


def test_audit_finds_duplicates_and_train_test_leaks(tmp_path, fixtures_dir):
    raw = tmp_path / "raw"
    shutil.copytree(fixtures_dir / "duee", raw / "duee")
    train = raw / "duee" / "duee_train.json"
    dev_first = (raw / "duee" / "duee_dev.json").read_text(encoding="utf-8").splitlines()[0]
    lines = train.read_text(encoding="utf-8").splitlines()
    train.write_text("\n".join(lines + [lines[0], dev_first]) + "\n", encoding="utf-8")
    out = tmp_path / "chinchilla"
    build_collection(str(raw), str(out), corpora=["duee"], log=lambda _: None)
    result = audit(str(out))
    assert result["duplicates"]["duplicates_within_split"] == {"duee/train": 1}
    assert result["duplicates"]["train_texts_in_eval_splits"] == {"duee": 1}


def test_span_audit_counts_nested_overlapping_and_duplicate_annotations():
    def ent(t, s, e):
        return {"type": t, "text": "x" * (e - s), "start": s, "end": e}

    record = {
        "entities": [ent("A", 0, 6), ent("B", 1, 3), ent("C", 4, 8), ent("C", 4, 8), {"type": "D", "text": "y", "start": None, "end": None}],
        "relations": [], "events": [], "flags": ["ungrounded_span"],
    }
    counts = span_audit([record])
    assert counts["nested_entities"] == 1  # B inside A
    assert counts["overlapping_entities"] == 2  # A/C overlap, A/C again (the duplicate)
    assert counts["duplicate_entities"] == 1
    assert counts["null_spans"] == 1 and counts["records_ungrounded_span"] == 1


def _leaky_duee(tmp_path, fixtures_dir):
    """A DuEE copy whose train split repeats a train record, holds a dev record, and a near copy of another."""
    raw = tmp_path / "raw"
    shutil.copytree(fixtures_dir / "duee", raw / "duee")
    train = raw / "duee" / "duee_train.json"
    lines = train.read_text(encoding="utf-8").splitlines()
    dev_first = (raw / "duee" / "duee_dev.json").read_text(encoding="utf-8").splitlines()[0]
    near = json.loads(lines[1])
    near["text"] = near["text"].replace("5亿元", "6亿元")  # one character apart, offsets unchanged
    train.write_text("\n".join(lines + [lines[0], dev_first, json.dumps(near, ensure_ascii=False)]) + "\n", encoding="utf-8")
    return raw, len(lines)


def test_duplicates_and_leaks_are_flagged_not_dropped(tmp_path, fixtures_dir):
    import datasets

    raw, n = _leaky_duee(tmp_path, fixtures_dir)
    out = tmp_path / "chinchilla"
    report = build_collection(str(raw), str(out), corpora=["duee"], near_duplicates=True, log=lambda _: None)
    train = datasets.load_dataset(str(out), "duee_unified", split="train", cache_dir=str(tmp_path / "c"))
    flags = train["flags"]
    assert len(train) == n + 3
    assert "duplicate" in flags[n] and "duplicate" not in flags[0]
    assert "leaks_into_test" in flags[n + 1]
    assert "near_duplicate" in flags[1] and "near_duplicate" in flags[n + 2]
    assert not any("near_duplicate" in f for i, f in enumerate(flags) if i not in (1, n + 2))
    assert report["duee"]["train"]["duplicates"] == 1 and report["duee"]["train"]["leaks_into_test"] == 1


def test_drop_leaks_removes_leaking_training_rows_from_both_views(tmp_path, fixtures_dir):
    import datasets

    raw, n = _leaky_duee(tmp_path, fixtures_dir)
    out = tmp_path / "chinchilla"
    assert main(["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duee", "--drop-leaks"]) == 0
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))["duee"]["train"]
    assert report["dropped_leaks"] == 1
    unified = datasets.load_dataset(str(out), "duee_unified", split="train", cache_dir=str(tmp_path / "c"))
    instruct = datasets.load_dataset(str(out), "duee_instruct", split="train", cache_dir=str(tmp_path / "c"))
    assert len(unified) == n + 2 and not any("leaks_into_test" in f for f in unified["flags"])
    assert set(instruct["record_id"]) == set(unified["id"])
    assert report["instruct_after_drop"] == len(instruct)
