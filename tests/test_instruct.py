"""The instruction view: templates as data, batching and sampling rules, the tolerant parser,
the scorer and the trainer exports."""

from __future__ import annotations

import json
from collections import Counter

import datasets
import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinchilla_datasets.cli import main
from chinchilla_datasets.parquet_io import iter_split
from chinchilla_datasets.instruct.arrow_columns import _json_strings
from chinchilla_datasets.instruct import (
    KNOWN_PLACEHOLDERS,
    TEMPLATE_FILES,
    InstructOptions,
    InstructRenderer,
    NegativeRanker,
    choose_template,
    corpus_stats,
    hash64,
    load_answer,
    load_templates,
    parse_output,
    render_records,
    template_placeholders,
)
from chinchilla_datasets.schema import INSTRUCT_FEATURES, UNIFIED_FEATURES
from chinchilla_datasets.score import score_rows


def test_templates_parse_use_known_placeholders_and_have_unique_ids():
    templates = load_templates()
    assert set(templates) == set(TEMPLATE_FILES)
    ids = [t["id"] for ts in templates.values() for t in ts]
    assert len(ids) == len(set(ids))
    for task, ts in templates.items():
        languages = Counter(t["language"] for t in ts)
        assert languages["zh"] >= 4 and languages["en"] >= 2, task
        for t in ts:
            assert t["task"] == task
            used = template_placeholders(t["text"])
            assert used <= KNOWN_PLACEHOLDERS and used == set(t["placeholders"]), t["id"]
            t["text"].format(schema="S", event_type="E", trigger="T")  # renders without KeyError


def test_template_choice_is_a_pure_function_of_id_and_seed():
    picks = {choose_template("NER", f"x-{i}")["id"] for i in range(200)}
    assert len(picks) == 4  # all Chinese phrasings get used
    assert choose_template("RE", "row-7", seed=1) == choose_template("RE", "row-7", seed=1)
    assert {choose_template("RE", "row-7", seed=s)["id"] for s in range(20)} != {choose_template("RE", "row-7")["id"]}
    assert choose_template("EE", "row-1", language="en")["language"] == "en"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 9).flatmap(
        lambda size: st.tuples(
            st.just(size),
            st.lists(st.lists(st.integers(0, 3), min_size=size, max_size=size), min_size=size, max_size=size),
            st.lists(st.lists(st.integers(0, size), max_size=4, unique=True), min_size=1, max_size=12),
        )
    ),
    st.integers(0, 2**32),
    st.sampled_from([1, 1 << 22]),  # counts of millions take the two-key sort
)
def test_negative_ranking_is_co_occurrence_then_a_per_record_hash(case, seed, scale):
    """The vectorized ranking equals sorting each record's labels one by one: higher summed
    co-occurrence with its gold labels first, ties by the (seed, record, label) key, gold labels
    last. Label ``size`` stands for a gold label outside the schema (it has counts, no position)."""
    size, counts, golds = case
    labels = [f"L{i}" for i in range(size)]
    outside = "OUTSIDE"
    cooccur = {(labels + [outside])[a]: {labels[b]: n * scale for b, n in enumerate(row) if n and a != b} for a, row in enumerate(counts)}
    cooccur[outside] = {labels[0]: 2}
    golds = [[(labels + [outside])[i] for i in gold] for gold in golds]
    ids = [f"rec-{i}" for i in range(len(golds))]
    ranker = NegativeRanker(cooccur, labels, seed)
    record_of = [i for i, gold in enumerate(golds) for _ in gold + gold[:1]]  # a label repeated in a record
    flat = [label for gold in golds for label in gold + gold[:1]]
    hashes = hash64(ids, seed)
    ranked = ranker.rank(hashes, record_of, flat, size)
    ties = ranker.tie_keys(hashes)
    for i, gold in enumerate(golds):
        score = {b: sum(cooccur.get(g, {}).get(labels[b], 0) for g in gold) for b in range(size)}
        # (gold labels are never taken as negatives: among them, only the hash orders)
        expected = sorted(range(size), key=lambda b: (labels[b] in gold, 0 if labels[b] in gold else -score[b], int(ties[i, b])))
        assert ranked[i].tolist() == expected
    top = ranker.rank(hashes, record_of, flat, 2)
    assert top.shape == (len(golds), min(2, size)) and (top == ranked[:, : min(2, size)]).all()


def test_template_choice_in_a_table_is_choose_template():
    records = [ner_record(i, [("PER", "张三")]) for i in range(40)]
    rows = list(render_records(records, "validation", SCHEMA, InstructOptions()))
    assert {r["template_id"] for r in rows} == {t["id"] for t in load_templates()["NER"] if t["language"] == "zh"}
    for row in rows:
        assert row["template_id"] == choose_template("NER", row["id"])["id"]
        template = choose_template("NER", row["id"])
        assert row["instruction"] == template["text"].format(schema="、".join(row["schema"]))


def test_renderer_takes_arrow_tables_and_returns_the_instruct_schema():
    records = [ner_record(i, [("PER", "张三"), ("ORG", "华星公司")]) for i in range(3)] + [ner_record(3, [])]
    table = pa.Table.from_pylist(records)
    out = InstructRenderer("validation", SCHEMA, InstructOptions(ner_batch=3))(table)
    assert out.schema.equals(INSTRUCT_FEATURES.arrow_schema, check_metadata=False)
    assert out.num_rows == 4 * 3  # 8 types in batches of 3, for every record
    assert out.column("record_id").to_pylist() == [r["id"] for r in records for _ in range(3)]
    assert out.column("input").to_pylist() == [r["text"] for r in records for _ in range(3)]
    assert out.to_pylist() == list(render_records(records, "validation", SCHEMA, InstructOptions(ner_batch=3)))


MENTIONS = ["张三", "北京", "华星公司", "", '带"引号\\的', "tab\t与\n换行", "\x01控制", "😀表情", "斜杠/"]
EE_SCHEMA = {"types": [["地震", "地震"], ["收购", "收购"], ["上市", "上市"]], "roles": {"地震": ["时间", "震级"], "收购": ["收购方", "被收购方"]}}


def _span(text):
    return {"text": text, "start": None, "end": None}


@st.composite
def training_table(draw):
    """Unified training records of one task (or of all three), with repeated labels and items,
    labels outside the schema, all-empty records, JSON-hostile strings, qualifiers and arguments."""
    mention = st.sampled_from(MENTIONS)
    ner_types = st.sampled_from([t for t, _ in SCHEMA["types"]] + ["NOT_IN_SCHEMA"])
    ee_types = st.sampled_from([t for t, _ in EE_SCHEMA["types"]] + ["未知事件"])
    role = st.sampled_from(["时间", "震级", "收购方", "地点"])
    entity = st.builds(lambda t, m: {"type": t, **_span(m)}, ner_types, mention)
    qualifier = st.builds(lambda r, m: {"role": r, "type": None, **_span(m)}, role, mention)
    relation = st.builds(
        lambda t, h, tl, q: {"type": t, "head": {"type": None, **_span(h)}, "tail": {"type": None, **_span(tl)}, "qualifiers": q},
        ner_types, mention, mention, st.lists(qualifier, max_size=2),
    )
    argument = st.builds(lambda r, m: {"role": r, **_span(m)}, role, mention)
    event = st.builds(lambda t, m, a: {"type": t, "trigger": _span(m), "arguments": a}, ee_types, mention, st.lists(argument, max_size=3))
    column = {"NER": ("entities", entity), "RE": ("relations", relation), "EE": ("events", event)}
    tasks = draw(st.sampled_from([["NER"], ["RE"], ["EE"], ["NER", "RE", "EE"]]))
    records = []
    for i in range(draw(st.integers(1, 40))):
        task = draw(st.sampled_from(tasks))
        record = {"id": f"c-train-{i}", "corpus": "c", "task": task, "text": "文本", "entities": [], "relations": [], "events": [], "flags": []}
        name, strategy = column[task]
        items = draw(st.lists(strategy, max_size=5))
        record[name] = items + items[: draw(st.integers(0, 2))]  # repeated annotations
        records.append(record)
    return records


@settings(max_examples=80, deadline=None)
@given(
    training_table(),
    st.sampled_from([InstructOptions(), InstructOptions(ner_batch=2, re_batch=2, ee_batch=2, negative_ratio=2.0, subtasks=False, empty_cap=0.5)]),
    st.sampled_from(["train", "validation"]),
)
def test_vectorized_rows_equal_the_loop(records, options, split):
    """Rows of plain records are built with numpy and Arrow (training EE: with their EET and EEA
    rows); the per-record loop, which renders the rest (all-empty training records, labels outside
    the schema, nulls, relations with several qualifiers), gives the same table for every record."""
    schema = {"types": SCHEMA["types"] + EE_SCHEMA["types"], "roles": EE_SCHEMA["roles"]}
    stats = corpus_stats(records, schema, options)
    table = pa.Table.from_pylist(records, schema=UNIFIED_FEATURES.arrow_schema)
    fast = InstructRenderer(split, schema, options, stats)
    loop = InstructRenderer(split, schema, options, stats)
    loop.fast_tasks = dict.fromkeys(loop.fast_tasks)  # no vectorized path
    rendered = fast(table)
    assert rendered.equals(loop(table))
    rows = rendered.to_pylist()
    annotated = {r["id"] for r in records if r["entities"] or r["relations"] or r["events"]}
    assert {r["record_id"] for r in rows} >= (annotated if split == "train" else {r["id"] for r in records})
    for row in rows:
        assert list(json.loads(row["output"])) == row["schema"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)))), max_size=20))
def test_arrow_json_strings_are_orjson(values):
    """Answer items are quoted by Arrow unless JSON escapes a character, then by orjson: every
    string comes out as orjson writes it (nulls stay null)."""
    quoted = _json_strings(pa.array(values, pa.string())).to_pylist()
    assert quoted == [None if v is None else orjson.dumps(v).decode() for v in values]


@pytest.mark.parametrize("split, rows_per_record", [("train", 1), ("validation", 2)])
def test_the_vectorized_path_renders_plain_records(split, rows_per_record):
    """(The equivalence above means something only if plain records do take the vectorized path.)"""
    records = [ner_record(i, [("PER", "张三"), ("ORG", '华星"公司')]) for i in range(20)]
    renderer = InstructRenderer(split, SCHEMA, InstructOptions(), corpus_stats(records, SCHEMA, InstructOptions()))
    calls = []
    renderer._loop_rows = lambda *args: calls.append(args)  # the loop must not be reached
    out = renderer(pa.Table.from_pylist(records, schema=UNIFIED_FEATURES.arrow_schema))
    assert not calls and out.num_rows == 20 * rows_per_record
    assert json.loads(out.column("output")[0].as_py())["ORG"] == ['华星"公司']


def ner_record(i, entities, text="张三在北京的华星公司工作"):
    ents = [{"type": t, "text": m, "start": text.find(m), "end": text.find(m) + len(m)} for t, m in entities]
    return {"id": f"c-train-{i}", "corpus": "c", "task": "NER", "text": text, "entities": ents, "relations": [], "events": [], "flags": []}


SCHEMA = {"types": [[t, t] for t in ("PER", "LOC", "ORG", "TIME", "PROD", "GPE", "EVT", "NUM")], "roles": {}}


def test_evaluation_splits_get_the_full_schema_in_batches():
    record = ner_record(1, [("PER", "张三")])
    rows = list(render_records([record], "validation", SCHEMA, InstructOptions(ner_batch=3)))
    assert [r["schema"] for r in rows] == [["PER", "LOC", "ORG"], ["TIME", "PROD", "GPE"], ["EVT", "NUM"]]
    assert json.loads(rows[0]["output"]) == {"PER": ["张三"], "LOC": [], "ORG": []}
    assert all(json.loads(r["output"]) == {t: [] for t in r["schema"]} for r in rows[1:])


def test_training_rows_hold_gold_types_and_prefer_hard_negatives():
    # ORG co-occurs with PER in the corpus; NUM never does: ORG is the hard negative.
    records = [ner_record(i, [("PER", "张三"), ("ORG", "华星公司")]) for i in range(5)] + [ner_record(9, [("PER", "张三")])]
    options = InstructOptions(negative_ratio=1.0)
    stats = corpus_stats(records, SCHEMA, options)
    assert stats["cooccur"]["PER"]["ORG"] == 5
    rows = list(render_records([records[-1]], "train", SCHEMA, options, stats))
    assert len(rows) == 1 and sorted(rows[0]["schema"]) == ["ORG", "PER"]
    assert json.loads(rows[0]["output"]) == {"PER": ["张三"], "ORG": []}
    assert rows[0]["params"]["negative_ratio"] == 1.0 and rows[0]["params"]["split_mode"] == "train"


def test_all_empty_rows_stay_under_the_cap():
    annotated = [ner_record(i, [("PER", "张三")]) for i in range(30)]
    empty = [ner_record(100 + i, [], text="今天天气很好") for i in range(100)]
    records = annotated + empty
    for cap in (0.1, 0.25):
        options = InstructOptions(empty_cap=cap)
        stats = corpus_stats(records, SCHEMA, options)
        rows = list(render_records(records, "train", SCHEMA, options, stats))
        all_empty = [r for r in rows if not any(json.loads(r["output"]).values())]
        assert 0 < len(all_empty) <= cap * len(rows)
        assert stats["empty_records"] == 100 and stats["empty_kept"] == len(all_empty)


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"PER": ["张三"], "LOC": ["北京"]}\n```',
        '好的，结果如下：{"PER": ["张三"], "LOC": ["北京"]} 以上。',
        '｛“PER”：［“张三”］，“LOC”：［“北京”］｝',
        '{"PER": ["张三",], "LOC": ["北京"],}',
    ],
)
def test_parser_tolerates_fences_prose_full_width_and_trailing_commas(answer):
    assert parse_output(answer, "NER") == [{"type": "PER", "text": "张三"}, {"type": "LOC", "text": "北京"}]


def test_parser_recovers_only_complete_items_of_a_truncated_answer():
    assert parse_output('{"PER": ["张三", "李四"], "LOC": ["北京", "上', "NER") == [
        {"type": "PER", "text": "张三"}, {"type": "PER", "text": "李四"}, {"type": "LOC", "text": "北京"}]
    truncated_re = '{"作者": [{"head": "山城旧事", "tail": "林晚秋"}, {"head": "听雨", "ta'
    assert parse_output(truncated_re, "RE") == [{"type": "作者", "head": "山城旧事", "tail": "林晚秋", "qualifiers": {}}]
    assert parse_output("I cannot answer that.", "NER") is None


def gold_rows(build, config, split="validation"):
    return list(iter_split(str(build), config, split))


def test_scoring_gold_gives_f1_one(fixture_build):
    for config in ("duie_instruct", "duee_instruct", "duee_fin_instruct"):
        rows = gold_rows(fixture_build, config)
        result = score_rows(rows, {r["id"]: r["output"] for r in rows})
        assert result["overall"]["f1"] == 1.0 and result["overall"]["gold"] > 0
        assert result["missing"] == result["unparseable"] == 0


def test_scoring_a_perturbed_copy_gives_the_expected_figures():
    records = [ner_record(1, [("PER", "张三"), ("LOC", "北京")]), ner_record(2, [("PER", "张三")])]
    rows = list(render_records(records, "validation", SCHEMA, InstructOptions()))
    by_record = {r["record_id"]: r for r in rows if "PER" in r["schema"]}
    predictions = {
        # record 1: PER right, LOC missed, one wrong ORG -> tp 1, pred 2, gold 2
        by_record["c-train-1"]["id"]: '```json\n{"PER": ["张三"], "LOC": [], "ORG": ["华星"]}\n```',
        # record 2 has the same text but is scored on its own: unparseable -> empty prediction
        by_record["c-train-2"]["id"]: "不知道",
    }
    result = score_rows(rows, predictions)
    assert result["overall"]["tp"] == 1 and result["overall"]["pred"] == 2 and result["overall"]["gold"] == 3
    assert result["overall"]["precision"] == 0.5 and result["overall"]["recall"] == pytest.approx(1 / 3, abs=1e-6)
    assert result["overall"]["f1"] == pytest.approx(0.4)
    assert result["unparseable"] == 1 and result["missing"] == len(rows) - 2
    assert result["records"] == 2
    assert result["by_type"]["NER"]["LOC"]["recall"] == 0.0


def test_score_cli_prints_json_with_overall(fixture_build, tmp_path, capsys):
    rows = gold_rows(fixture_build, "duee_instruct")
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("\n".join(json.dumps({"id": r["id"], "output": r["output"]}, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert main(["score", "--predictions", str(predictions), "--data", str(fixture_build), "--config", "duee_instruct", "--split", "validation", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "f1"} <= set(result["overall"]) and result["overall"]["f1"] == 1.0
    assert set(result["by_task"]) == {"EE-trigger", "EE-argument"}
    assert main(["score", "--predictions", str(predictions), "--data", str(fixture_build), "--config", "nope_instruct"]) == 2


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "openai"])
def test_exports_load_in_the_formats_named(fixture_build, tmp_path, fmt):
    out = tmp_path / "export"
    assert main(["export", "--data", str(fixture_build), "--config", "duie_instruct", "--split", "train", "--format", fmt, "--out", str(out)]) == 0
    path = out / f"duie_instruct.train.{fmt}.jsonl"
    ds = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    rows = gold_rows(fixture_build, "duie_instruct", "train")
    assert len(ds) == len(rows) and ds["id"] == [r["id"] for r in rows]
    if fmt == "alpaca":
        assert {k: ds[0][k] for k in ("instruction", "input", "output")} == {k: rows[0][k] for k in ("instruction", "input", "output")}
    elif fmt == "sharegpt":
        assert [m["from"] for m in ds[0]["conversations"]] == ["human", "gpt"]
    else:
        assert [m["role"] for m in ds[0]["messages"]] == ["system", "user", "assistant"]
        assert json.loads(ds[0]["messages"][2]["content"]) == json.loads(rows[0]["output"])
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert info[f"duie_instruct.train.{fmt}"]["file_name"] == path.name
