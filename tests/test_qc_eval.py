"""The QC evaluation harness (benchmarks/qc_eval.py): reading a tagged corpus, scoring a report
against the errors injected, and refitting the ranking's weights."""

from __future__ import annotations

import json
import random

from benchmarks.qc_eval import _decode, fit_weights, inject, inject_file, read_tagged, score
from builders.msra_ner import parse_word_line
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


def test_inject_into_msra_word_lines_changes_exactly_the_reported_spans(tmp_path):
    """MSRA's SIGHAN form (``word/tag`` per line): what the builder reads back from the written file
    differs from the original only at the injected errors, and blank lines are not sentences."""
    line = "在/o 王小明/nr 和/o 李四/nr 的陪同下，/o 北京市/ns 政府/nt 代表团/o 到达/o "
    source = tmp_path / "train1.txt"
    source.write_text("\n".join([line] * 60 + [""] + [line] * 20) + "\n", encoding="utf-8")
    target = tmp_path / "out" / "train1.txt"
    target.parent.mkdir()
    injected = inject_file(source, target, 0.1, random.Random(5))
    original = [_spans(line)] * 80
    written = [_spans(l) for l in target.read_text(encoding="utf-8").splitlines() if l.strip()]
    assert len(written) == 80 and 0 < len(injected) <= 9 and {kind for *_, kind in injected.values()} <= {"delete", "shift", "retype"}
    for index, (old, new) in enumerate(zip(original, written)):
        if index not in injected:
            assert new == old
            continue
        low, high, _ = injected[index]
        changed = set(old) ^ set(new)
        assert changed and all(low <= a and b <= high for a, b, _ in changed)


def _spans(line):
    chars, tags = parse_word_line(line)
    return [tuple(span) for span in _decode(tags)]
