"""Quality control (issue 16): each check on small crafted data, the cross-validated CRF, and
``chinchilla build --qc`` / ``chinchilla qc`` / ``chinchilla qc-review`` end to end on a small
Resume-format corpus with errors injected on purpose."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from chinchilla_datasets import cli
from chinchilla_datasets.qc import QC_FLAG, QCOptions
from chinchilla_datasets.qc.consistency import SurfaceIndex, event_checks, ner_checks, relation_checks
from chinchilla_datasets.qc.confident import soft_spans
from chinchilla_datasets.qc.crf import CRFOptions, cross_validate
from chinchilla_datasets.qc.features import BigramAssociation, Lexicon, char_features, spans_from_tags, tag_entities
from chinchilla_datasets.qc.report import flagged_rows
from chinchilla_datasets.qc.review import highlight


def entity(text, surface, type_, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = text.index(surface, start + 1)
    return {"type": type_, "text": surface, "start": start, "end": start + len(surface)}


# ---------------------------------------------------------------- features


def test_tags_round_trip_and_overlaps_keep_the_longer_span():
    text = "北京大学在北京"
    entities = [entity(text, "北京", "LOC"), entity(text, "北京大学", "ORG"), entity(text, "北京", "LOC", 1)]
    tags, tagged = tag_entities(text, entities)
    assert tags == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC"]
    assert tagged == [1, 2]
    assert spans_from_tags(tags) == [(0, 4, "ORG"), (5, 7, "LOC")]
    assert spans_from_tags(["I-PER", "I-PER", "B-LOC", "I-ORG"]) == [(0, 2, "PER"), (2, 3, "LOC"), (3, 4, "ORG")]


def test_char_features_one_list_per_character_with_boundary_buckets():
    association = BigramAssociation(["我爱北京", "北京很大", "北京"])
    features = char_features("北京a1", association)
    assert len(features) == 4
    assert "c0=北" in features[0] and "c+1=京" in features[0] and "wl=S" in features[0]
    assert any(f.startswith("wr=") and f != "wr=r" for f in features[0])  # 北京 is a frequent pair
    assert "k=hld" in features[2]


def test_lexicon_marks_known_strings_by_place_and_commonest_type():
    tagged = [("我去北京", ["O", "O", "B-LOC", "I-LOC"]), ("北京大学", ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]),
              ("在北京", ["O", "B-LOC", "I-LOC"]), ("张三来", ["B-PER", "I-PER", "I-PER"])]
    lexicon = Lexicon(tagged)
    assert lexicon.types == {"北京": "LOC", "北京大学": "ORG", "张三来": "PER"}
    marks = lexicon.marks("到北京大学")
    assert marks[0] == set() and marks[1] == {"BLOC", "BORG"} and marks[2] == {"ELOC", "IORG"} and marks[4] == {"EORG"}
    features = char_features("到北京", None, lexicon)
    assert "g=-" in features[0] and "g=BLOC" in features[1] and "g=ELOC" in features[2]
    assert not any(f.startswith("g=") for f in char_features("到北京")[1])  # off without a lexicon


def test_soft_spans_find_a_mention_whose_probability_is_split_between_types():
    labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    m = np.array([[0.9, 0.05, 0, 0.05, 0],      # O
                  [0.4, 0.3, 0, 0.3, 0],        # argmax O, but 0.6 entity mass: opens a span
                  [0.45, 0, 0.35, 0, 0.2],      # continues it (inside mass)
                  [0.5, 0.3, 0, 0.2, 0],        # a B outweighs the I: a new span
                  [0.95, 0, 0.05, 0, 0]])
    assert [labels[j] for j in m.argmax(axis=1)] == ["O"] * 5
    assert soft_spans(m, labels) == [(1, 3, "LOC"), (3, 4, "LOC")]
    assert soft_spans(m, labels, mass=0.7) == []


# ---------------------------------------------------------------- consistency checks


def ner_rows():
    rows = []
    for i in range(5):
        text = f"张伟今天去了上海{i}"
        rows.append((f"ok{i}", text, [entity(text, "张伟", "PER"), entity(text, "上海", "LOC")]))
    text = "张伟明天回上海"
    rows.append(("unlabelled", text, [entity(text, "张伟", "PER")]))  # 上海 labelled 5 times elsewhere
    text = "昨天张伟在上海"
    rows.append(("retyped", text, [entity(text, "张伟", "ORG"), entity(text, "上海", "LOC")]))
    text = "见到了，李明"
    rows.append(("edge", text, [{"type": "PER", "text": "，李明", "start": 3, "end": 6}]))
    return rows


def test_ner_checks_find_missing_retyped_and_punctuated_spans():
    rows = ner_rows()
    index = SurfaceIndex([(text, entities) for _, text, entities in rows])
    assert index.labelled("上海") == 6 and index.unlabelled["上海"] == 1
    found = {(s["id"], s["kind"]) for s in ner_checks(rows, index)}
    assert ("unlabelled", "missing") in found
    assert ("retyped", "type") in found
    assert ("edge", "boundary") in found
    assert not any(row_id.startswith("ok") for row_id, _ in found)
    edge = next(s for s in ner_checks(rows, index) if s["id"] == "edge")
    assert edge["suggestion"] == {"start": 4, "end": 6, "type": "PER"}


def test_an_occurrence_inside_a_labelled_span_is_not_unlabelled():
    text = "上海银行和上海"
    index = SurfaceIndex([(text, [entity(text, "上海银行", "ORG"), entity(text, "上海", "LOC", 1)])])
    assert index.unlabelled["上海"] == 0


def relation(rel, head, head_type, tail, tail_type, text):
    return {"type": rel, "head": {**entity(text, head, head_type)}, "tail": {**entity(text, tail, tail_type)}, "qualifiers": []}


def test_relation_checks_schema_contradictions_and_head_equal_to_tail():
    rows = []
    for i in range(60):
        text = f"作品{i}的作者是人{i}"
        rows.append((f"ok{i}", text, [relation("作者", f"作品{i}", "图书作品", f"人{i}", "人物", text)]))
    text = "北京的作者是张三"
    rows.append(("bad", text, [relation("作者", "北京", "地点", "张三", "人物", text)]))
    text = "张三的父亲是张三"
    same = relation("父亲", "张三", "人物", "张三", "人物", text)
    rows.append(("same", text, [same]))
    text = "电视剧历史的天空改编自同名小说"
    adapted = relation("改编自", "历史的天空", "影视作品", "历史的天空", "作品", text)
    rows.append(("adapted", text, [adapted]))  # a drama and the novel of the same name: right
    found = {(s["id"], s["kind"], s["check"]) for s in relation_checks(rows)}
    assert ("bad", "schema", "schema") in found
    assert ("same", "inconsistent", "head_is_tail") in found
    assert not any(row_id.startswith("ok") or row_id == "adapted" for row_id, _, _ in found)
    given = relation_checks(rows[:1], {"作者": {("人物", "人物")}})
    assert [s["kind"] for s in given] == ["schema"]


def test_event_checks_roles_triggers_and_duplicates():
    text = "公司昨天宣布裁员"
    event = {"type": "组织关系-裁员", "trigger": {"text": "裁员", "start": 6, "end": 8}, "arguments": [{"role": "裁员方", "text": "公司", "start": 0, "end": 2}]}
    off_role = {**event, "arguments": [{"role": "买方", "text": "公司", "start": 0, "end": 2}]}
    absent = {**event, "trigger": {"text": "收购", "start": None, "end": None}}
    roles = {"组织关系-裁员": ["裁员方", "裁员人数"]}
    rows = [("a", text, [event, event]), ("b", text, [off_role])] + [(f"ok{i}", text, [event]) for i in range(10)] + [("c", text, [absent])]
    found = [(s["id"], s["check"]) for s in event_checks(rows, roles)]
    assert found == [("a", "duplicate_event"), ("b", "role_schema"), ("c", "trigger_not_in_text")]
    normalised = [(f"n{i}", text, [absent]) for i in range(5)] + [("ok", text, [event])]
    assert event_checks(normalised, roles) == []  # most triggers absent: the corpus's convention


def test_flagged_rows_respect_threshold_and_budget():
    entry = {"rows": 10, "suspects": [{"id": "a", "score": 0.9}, {"id": "a", "score": 0.8}, {"id": "b", "score": 0.7}, {"id": "c", "score": 0.2}]}
    assert flagged_rows(entry, 0.5) == ["a", "b"]
    assert flagged_rows(entry, 0.5, max_share=0.1) == ["a"]


def test_highlight_marks_the_span_in_context():
    assert highlight("我在北京上学", 2, 4) == "我在【北京】上学"
    assert highlight("x" * 50 + "北京" + "y" * 50, 50, 52, context=3) == "…xxx【北京】yyy…"


# ---------------------------------------------------------------- the model


def corpus(count: int, seed: int = 0):
    """Sentences from templates of names, places and organisations (invented here)."""
    rng = random.Random(seed)
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏"]
    places = ["北京", "上海", "广州", "深圳", "成都", "武汉"]
    orgs = ["华夏银行", "东方电气", "长城科技", "南方日报"]
    templates = [("{n}在{o}工作", "n", "o"), ("{n}毕业于{p}的{o}", "n", "p", "o"), ("{n}出生于{p}", "n", "p"), ("{o}位于{p}", "o", "p")]
    rows = []
    for _ in range(count):
        template, *slots = rng.choice(templates)
        values = {"n": rng.choice(names), "p": rng.choice(places), "o": rng.choice(orgs)}
        text = template.format(**values)
        types = {"n": "NAME", "p": "LOC", "o": "ORG"}
        rows.append((text, [entity(text, values[s], types[s]) for s in slots]))
    return rows


def test_cross_validation_is_out_of_fold_deterministic_and_parallel_safe():
    rows = corpus(60)
    texts = [t for t, _ in rows]
    tags = [tag_entities(t, e)[0] for t, e in rows]
    options = CRFOptions(folds=3, repeats=2, max_iterations=15)
    one = cross_validate(texts, tags, options)
    assert len(one.folds) == 6 and all(f["f1"] > 0.5 for f in one.folds)
    assert all(m.shape == (len(t), len(one.labels)) for m, t in zip(one.marginals, texts))
    assert all(np.allclose(m.sum(axis=1), 1.0, atol=1e-3) for m in one.marginals)
    assert all(p.shape == (2, len(t)) for p, t in zip(one.paths, texts))
    two = cross_validate(texts, tags, options, num_proc=2)
    assert all(np.array_equal(a, b) for a, b in zip(one.marginals, two.marginals))
    plain = cross_validate(texts, tags, CRFOptions(folds=3, repeats=2, max_iterations=15, lexicon=False))
    assert not all(np.array_equal(a, b) for a, b in zip(one.marginals, plain.marginals))  # the lexicon is used


def test_a_held_out_sentence_never_sees_its_own_labels_through_the_lexicon():
    # One sentence's name, never seen in another sentence: a lexicon leaking held-out labels would
    # make the model tag it; out-of-fold, it knows nothing of it.
    rows = corpus(60)
    texts = [t for t, _ in rows] + ["乙丙丁戊"]
    tags = [tag_entities(t, e)[0] for t, e in rows] + [["B-NAME", "I-NAME", "I-NAME", "I-NAME"]]
    cv = cross_validate(texts, tags, CRFOptions(folds=3, max_iterations=15))
    name = cv.labels.index("I-NAME")
    assert cv.marginals[-1][2:4, name].max() < 0.1  # its names have two characters; a leak gives about 0.4
    leaked = Lexicon([(texts[-1], tags[-1])])
    assert leaked.marks(texts[-1])[0] == {"BNAME"}  # what a leak would have given it


# ---------------------------------------------------------------- build --qc end to end


def write_bmes(path: Path, rows: list) -> None:
    lines = []
    for text, entities in rows:
        tags = ["O"] * len(text)
        for e in entities:
            if e["end"] - e["start"] == 1:
                tags[e["start"]] = "S-" + e["type"]
                continue
            tags[e["start"]] = "B-" + e["type"]
            for k in range(e["start"] + 1, e["end"] - 1):
                tags[k] = "M-" + e["type"]
            tags[e["end"] - 1] = "E-" + e["type"]
        lines += [f"{c} {t}" for c, t in zip(text, tags)] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def injected_corpus(root: Path) -> dict:
    """A Resume-format corpus; returns ``{sentence index: kind}`` of the errors put into its train split."""
    rows = corpus(150, seed=1)
    injected = {}
    for i in (7, 31, 64, 98, 120):
        text, entities = rows[i]
        if i in (7, 64):
            rows[i] = (text, entities[1:])  # the first entity deleted
            injected[i] = "delete"
        elif i in (31, 120):
            e = dict(entities[0], type="ORG" if entities[0]["type"] != "ORG" else "LOC")
            rows[i] = (text, [e] + entities[1:])
            injected[i] = "retype"
        else:
            e = dict(entities[0], end=entities[0]["end"] + 1)
            rows[i] = (text, [e] + entities[1:])
            injected[i] = "shift"
    folder = root / "resume_ner"
    folder.mkdir(parents=True)
    write_bmes(folder / "train.char.bmes", rows)
    write_bmes(folder / "dev.char.bmes", corpus(30, seed=2))
    return injected


def unified_rows(out: Path, split: str) -> list:
    files = sorted((out / "resume_ner_unified").glob(f"{split}-*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def injected_ids(out: Path, injected: dict) -> set:
    """Row ids (``<corpus>-<split>-<line>``) of the sentences injected, by their order in the split."""
    rows = unified_rows(out, "train")
    return {rows[i]["id"] for i in injected}


FAST = ["--folds", "3", "--qc-iterations", "15"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("qc")
    injected = injected_corpus(root / "raw")
    out = root / "chinchilla"
    assert cli.main(["build", "--data-dir", str(root / "raw"), "--out", str(out), "--corpus", "resume_ner", "--qc", *FAST]) == 0
    return root, out, injected


def test_build_with_qc_flags_the_injected_errors_and_loses_no_row(built):
    root, out, injected = built
    report = json.loads((out / "qc_report.json").read_text())
    assert set(report) == {"resume_ner"} and set(report["resume_ner"]) == {"train", "validation"}
    train = report["resume_ner"]["train"]
    assert {"suspects", "model", "seconds"} <= set(train)
    assert len(train["model"]["folds"]) >= 3 and all("f1" in f for f in train["model"]["folds"])
    scores = [s["score"] for s in train["suspects"]]
    assert scores == sorted(scores, reverse=True)
    for s in train["suspects"]:
        assert {"id", "kind", "start", "end", "type", "score", "suggestion"} <= set(s)
        assert s["kind"] in {"missing", "spurious", "boundary", "type", "schema", "inconsistent"}
    found = {s["id"] for s in train["suspects"]}
    assert len(found & injected_ids(out, injected)) >= 4, (found, injected)
    rows = unified_rows(out, "train")
    assert len(rows) == 150  # no row lost
    flagged = {r["id"] for r in rows if QC_FLAG in r["flags"]}
    assert flagged == found
    build_report = json.loads((out / "build_report.json").read_text())
    assert build_report["resume_ner"]["train"]["qc_suspects"] == len(flagged)
    card = (out / "README.md").read_text()
    assert "## Quality control" in card and "| resume_ner | train | 150 |" in card


def test_qc_review_prints_the_top_suspects_in_context(built, capsys):
    _, out, _ = built
    assert cli.main(["qc-review", str(out), "--corpus", "resume_ner", "--top", "3"]) == 0
    page = capsys.readouterr().out
    assert page.count("\n#") == 3 and "【" in page and "suggestion:" in page
    assert cli.main(["qc-review", str(out), "--corpus", "duie"]) == 2


def test_qc_is_deterministic_and_drop_suspects_counts(built, tmp_path):
    root, out, _ = built
    second = tmp_path / "chinchilla"
    assert cli.main(["build", "--data-dir", str(root / "raw"), "--out", str(second), "--corpus", "resume_ner", "--qc", *FAST, "--num-proc", "2"]) == 0
    assert _without_seconds(second) == _without_seconds(out)
    report = json.loads((out / "qc_report.json").read_text())
    flagged = {s["id"] for s in report["resume_ner"]["train"]["suspects"]}
    dropped = tmp_path / "dropped" / "chinchilla"
    assert cli.main(["build", "--data-dir", str(root / "raw"), "--out", str(dropped), "--corpus", "resume_ner", "--qc", *FAST, "--drop-suspects"]) == 0
    build_report = json.loads((dropped / "build_report.json").read_text())
    assert build_report["resume_ner"]["train"]["dropped_suspects"] == len(flagged)
    rows = unified_rows(dropped, "train")
    assert len(rows) == 150 - len(flagged) and not flagged & {r["id"] for r in rows}
    instruct = [r for f in sorted((dropped / "resume_ner_instruct").glob("train-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert instruct and not flagged & {r["record_id"] for r in instruct}
    assert build_report["resume_ner"]["train"]["instruct_after_drop"] == len(instruct)


def _without_seconds(out: Path) -> dict:
    report = json.loads((out / "qc_report.json").read_text())
    for splits in report.values():
        for entry in splits.values():
            entry.pop("seconds")
    return report


def test_qc_on_an_existing_build_rewrites_it_in_place(tmp_path):
    injected = injected_corpus(tmp_path / "raw")
    out = tmp_path / "chinchilla"
    assert cli.main(["build", "--data-dir", str(tmp_path / "raw"), "--out", str(out), "--corpus", "resume_ner"]) == 0
    before = {r["id"]: r for r in unified_rows(out, "train")}
    assert not any(QC_FLAG in r["flags"] for r in before.values())
    assert cli.main(["qc", "--data", str(out), *FAST]) == 0
    after = {r["id"]: r for r in unified_rows(out, "train")}
    assert set(after) == set(before)
    report = json.loads((out / "qc_report.json").read_text())
    flagged = {s["id"] for s in report["resume_ner"]["train"]["suspects"]}
    assert flagged and {i for i, r in after.items() if QC_FLAG in r["flags"]} == flagged
    assert "## Quality control" in (out / "README.md").read_text()
    mixture = [r for f in sorted((out / "all_unified").glob("train-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert {r["id"] for r in mixture if QC_FLAG in r["flags"]} == flagged
    assert not list(tmp_path.glob(".chinchilla.qc-*"))  # the working copy was swapped in
    assert cli.main(["qc", "--data", str(out), "--corpus", "duie"]) == 2
    assert len(injected_ids(out, injected) & flagged) >= 3


def test_missing_qc_dependencies_give_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cleanlab" else real(name, *a))
    assert cli.main(["build", "--out", str(tmp_path / "chinchilla"), "--corpus", "resume_ner", "--qc"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "[qc]" in err and "cleanlab" in err
    assert not (tmp_path / "chinchilla").exists()


def test_qc_folds_use_one_process_per_core_unless_num_proc_is_given(tmp_path, monkeypatch):
    from chinchilla_datasets import qc as qc_package
    from chinchilla_datasets.qc import apply as qc_apply

    injected_corpus(tmp_path / "raw")
    asked = []
    real = qc_apply.qc_corpus

    def recording(*args, **kwargs):
        asked.append(kwargs["num_proc"])
        return real(*args, **{**kwargs, "num_proc": 1})

    monkeypatch.setattr(qc_apply, "qc_corpus", recording)
    monkeypatch.setattr(qc_package, "qc_processes", lambda: 7)
    common = ["--data-dir", str(tmp_path / "raw"), "--corpus", "resume_ner", "--qc", *FAST]
    assert cli.main(["build", *common, "--out", str(tmp_path / "a" / "chinchilla")]) == 0
    assert cli.main(["build", *common, "--out", str(tmp_path / "b" / "chinchilla"), "--num-proc", "1"]) == 0
    assert cli.main(["qc", "--data", str(tmp_path / "b" / "chinchilla"), *FAST]) == 0
    assert asked == [7, 1, 7]
    assert qc_apply.qc_processes() >= 1
