"""The QC evaluation harness (benchmarks/qc_eval.py): reading a tagged corpus, scoring a report
against the errors injected, and refitting the ranking's weights."""

from __future__ import annotations

import json
import random

from benchmarks.qc_eval import fit_weights, inject, read_tagged, score
from chinchilla_datasets.qc.confident import PRIORS, WEIGHTS


def test_read_tagged_decodes_bmes_and_bio_and_takes_a_slice(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("张 B-PER\n三 E-PER\n在 O\n京 S-LOC\n\n我\tO\n去\tO\n北\tB-LOC\n京\tI-LOC\n\n好 O\n\n", encoding="utf-8")
    rows = read_tagged(str(path))
    assert [r["text"] for r in rows] == ["张三在京", "我去北京", "好"]
    assert rows[0]["entities"] == [{"start": 0, "end": 2, "type": "PER", "text": "张三"}, {"start": 3, "end": 4, "type": "LOC", "text": "京"}]
    assert rows[1]["entities"] == [{"start": 2, "end": 4, "type": "LOC", "text": "北京"}]
    assert [r["text"] for r in read_tagged(str(path), limit=1, offset=1)] == ["我去北京"]
    assert len({r["id"] for r in rows}) == 3


def _rows(count):
    return [{"id": f"r{i}", "text": "张三去北京开会", "entities": [{"start": 0, "end": 2, "type": "PER", "text": "张三"}, {"start": 3, "end": 5, "type": "LOC", "text": "北京"}]} for i in range(count)]


def test_score_counts_an_injected_error_found_only_by_an_overlapping_suspect():
    rows = _rows(40)
    injected = inject(rows, 0.1, 3, ["LOC", "PER"])
    assert len(injected) == 4
    first, second = sorted(injected)[:2]
    low, high, _ = injected[first]
    suspects = [{"id": first, "kind": "missing", "start": low, "end": high, "score": 0.9, "suggestion": None},
                {"id": second, "kind": "missing", "start": 6, "end": 7, "score": 0.8, "suggestion": None},  # the wrong place
                {"id": "r-none", "kind": "type", "start": 0, "end": 2, "score": 0.7, "suggestion": None}]
    result = score({"train": {"suspects": suspects}}, injected, len(rows), 3)
    assert result["recall"] == 0.25 and result["top_k_precision"] == 0.25 and result["flagged_share"] == 0.075


def test_fit_weights_learns_that_low_label_confidence_marks_an_error(tmp_path):
    rng = random.Random(0)
    suspects, injected = [], {}
    for i in range(400):
        error = i % 4 == 0
        evidence = {name: rng.random() for name in WEIGHTS}
        evidence.update(label_confidence=rng.uniform(0.0, 0.3) if error else rng.uniform(0.5, 1.0), cleanlab=False, off_by_one=False)
        suspects.append({"id": f"r{i}", "kind": rng.choice(list(PRIORS)), "start": 0, "end": 2, "score": 0.0, "suggestion": None, **evidence})
        if error:
            injected[f"r{i}"] = [0, 2, "delete"]
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"report": {"train": {"suspects": suspects}}, "injected": injected, "rows": 400}))
    fitted = fit_weights([str(dump)])
    assert fitted["candidates"] == 400 and fitted["positive"] == 100
    assert set(fitted["WEIGHTS"]) == set(WEIGHTS) and set(fitted["PRIORS"]) == set(PRIORS)
    assert fitted["WEIGHTS"]["label_confidence"] < -1 and abs(fitted["WEIGHTS"]["consistency"]) < abs(fitted["WEIGHTS"]["label_confidence"])
