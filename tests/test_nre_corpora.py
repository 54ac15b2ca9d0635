"""SanWen and FinRE (thunlp/Chinese_NRE line format): the edge cases of the format and of grouping
entity-pair lines into one record per sentence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builders.finre import RELATIONS, FinRE
from builders.sanwen import SanWen
from chinchilla_datasets.collection import bundled_fixtures
from chinchilla_datasets.nre import read_pair_lines, read_relation2id, sentence_record

from conftest import needs_samples

BUILDERS = {"sanwen": SanWen, "finre": FinRE}


def build(cls, view: str, data_dir: Path, cache_dir: Path):
    builder = cls(config_name=f"{cls.corpus.name}_{view}", data_dir=str(data_dir), cache_dir=str(cache_dir / view))
    builder.download_and_prepare(download_mode="force_redownload")
    return builder, builder.as_dataset()


def pair(head, tail, relation, sentence):
    return {"head": head, "tail": tail, "relation": relation, "sentence": sentence}


def assert_spans_valid(record):
    spans = record["entities"] + [m for r in record["relations"] for m in (r["head"], r["tail"])]
    for span in spans:
        assert span["start"] is not None, (record["id"], span)
        assert record["text"][span["start"] : span["end"]] == span["text"], (record["id"], span)


def test_reader_strips_crlf_and_skips_finre_blank_lines():
    sanwen = list(read_pair_lines(str(bundled_fixtures() / "sanwen" / "train.txt")))
    assert [n for n, _ in sanwen] == list(range(1, 8))
    assert all(not r["sentence"].endswith("\r") for _, r in sanwen)
    assert sanwen[2][1] == pair("老井", "<N>米", "unknown", "外婆的老屋坐落在村口的槐树下，屋前有一口<N>米深的老井。")
    finre = list(read_pair_lines(str(bundled_fixtures() / "finre" / "train.txt")))
    # One record every other line: the blank line after each record is not a record.
    assert [n for n, _ in finre] == [1, 3, 5, 7, 9, 11, 13]


def test_malformed_lines_are_rejected_with_a_reason(tmp_path):
    path = tmp_path / "train.txt"
    lines = [
        "外婆\t老屋\tOwnership\t外婆的老屋很旧。",
        "外婆\t老屋\t外婆的老屋很旧。",  # a column missing
        "外婆\t老屋\tOwnership\t外婆的老屋\t很旧。",  # a TAB inside the sentence
        "\t老屋\tOwnership\t外婆的老屋很旧。",  # empty head
        "",
    ]
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    out = list(read_pair_lines(str(path)))
    assert [n for n, _ in out] == [1, 2, 3, 4]
    assert out[0][1]["relation"] == "Ownership"
    assert "got 3" in out[1][1].reason and "got 5" in out[2][1].reason
    assert out[3][1].reason == "empty head column"


def test_builder_reports_malformed_lines_and_keeps_the_rest(tmp_path):
    data = tmp_path / "finre"
    shutil.copytree(bundled_fixtures() / "finre", data)
    with open(data / "train.txt", "ab") as f:
        f.write("东海集团\t蓝湾地产\t收购\n\n".encode("utf-8"))  # line 15: no sentence column
    builder, dd = build(FinRE, "unified", data, tmp_path / "cache")
    report = builder.report["train"]
    assert report["read"] == 8 and report["written"] == 7
    assert [(r["line"], r["file"]) for r in report["rejected"]] == [(15, "train.txt")]
    assert "expected 4 TAB-separated columns" in report["rejected"][0]["reason"]
    assert len(dd["train"]) == 3


def test_unknown_is_no_relation_but_its_mentions_stay_entities():
    sentence = "东海集团宣布以<N>亿元收购蓝湾地产<N>%股权,蓝湾地产将成为东海集团的全资子公司。"
    record = sentence_record(
        [
            pair("东海集团", "蓝湾地产", "收购", sentence),
            pair("蓝湾地产", "东海集团", "被收购", sentence),
            pair("东海集团", "蓝湾地产", "unknown", sentence),
            pair("东海集团", "蓝湾地产", "收购", sentence),  # repeated line
            pair("东海集团", "<N>亿元", "unknown", sentence),
        ]
    )
    assert [(r["type"], r["head"]["text"], r["tail"]["text"]) for r in record["relations"]] == [
        ("收购", "东海集团", "蓝湾地产"),
        ("被收购", "蓝湾地产", "东海集团"),
    ]
    assert [(e["text"], e["start"], e["end"]) for e in record["entities"]] == [
        ("东海集团", 0, 4),
        ("蓝湾地产", 14, 18),
        ("<N>亿元", 7, 12),  # the number placeholder inside an entity string is grounded as is
    ]
    assert all(e["type"] is None for e in record["entities"])
    assert record["flags"] == ["ambiguous_span"]  # both companies occur twice
    assert_spans_valid({**record, "id": "x"})


def test_sentence_with_only_unknown_pairs_is_a_negative():
    record = sentence_record([pair("孩子们", "河边", "unknown", "孩子们在河边捉了一下午的蝌蚪。")])
    assert record["relations"] == []
    assert [e["text"] for e in record["entities"]] == ["孩子们", "河边"]
    assert record["text"] == "孩子们在河边捉了一下午的蝌蚪。"


def test_padded_columns_are_grounded_without_the_padding():
    # The upstream README shows its example line with spaces after the TABs.
    record = sentence_record([pair(" 荷叶", "   池塘", " Located", " 池塘里铺满了荷叶")])
    assert [(r["type"], r["head"]["text"], r["tail"]["text"]) for r in record["relations"]] == [("Located", "荷叶", "池塘")]
    assert record["flags"] == [] and record["text"] == " 池塘里铺满了荷叶"
    assert_spans_valid({**record, "id": "x"})


def test_lines_of_one_sentence_merge_within_a_split_even_when_apart(tmp_path):
    _, dd = build(SanWen, "unified", bundled_fixtures() / "sanwen", tmp_path)
    train = {r["id"]: r for r in dd["train"]}
    assert list(train) == ["sanwen-train-1", "sanwen-train-4", "sanwen-train-6"]
    first = train["sanwen-train-1"]
    # Line 7 repeats line 1's sentence after two other sentences: it joins the record of line 1.
    assert [(r["type"], r["head"]["text"], r["tail"]["text"]) for r in first["relations"]] == [
        ("Ownership", "外婆", "老屋"),
        ("Located", "老屋", "村口"),
        ("Located", "槐树", "村口"),
    ]
    negatives = [r for r in dd["test"] if not r["relations"]]
    assert [r["text"] for r in negatives] == ["孩子们在河边捉了一下午的蝌蚪。"]
    for split in dd.values():
        for record in split:
            assert_spans_valid(record)


def test_sanwen_schema_is_tab_separated_and_named_in_chinese():
    schema = SanWen().read_schema(str(bundled_fixtures() / "sanwen" / "relation2id.txt"))
    assert schema["roles"] == {}
    assert schema["types"][0] == ["Create", "创作"]
    assert ["Located", "位于"] in schema["types"]
    assert [label for label, _ in schema["types"]] == list(SanWen.corpus.labels)  # unknown excluded
    displays = [display for _, display in schema["types"]]
    assert len(set(displays)) == len(displays) == 9


def test_finre_schema_is_space_separated_crlf_without_final_newline(tmp_path):
    path = bundled_fixtures() / "finre" / "relation2id.txt"
    assert b" " in path.read_bytes() and b"\t" not in path.read_bytes() and not path.read_bytes().endswith(b"\n")
    schema = FinRE().read_schema(str(path))
    assert schema["types"] == [[label, label] for label in RELATIONS]
    assert len(schema["types"]) == 43 and schema["types"][-1] == ["被拟收购", "被拟收购"]


def test_instructions_name_sanwen_relations_in_chinese(tmp_path):
    builder, dd = build(SanWen, "instruct", bundled_fixtures() / "sanwen", tmp_path)
    for row in dd["train"]:
        assert "Located" not in row["instruction"] and "Located" not in row["output"]
        assert set(row["schema"]) <= set(SanWen.corpus.labels.values())
    assert any("位于" in row["output"] for row in dd["train"])


def test_label_table_is_the_schema_when_relation2id_is_absent(tmp_path):
    for cls in BUILDERS.values():
        data = tmp_path / cls.corpus.name
        shutil.copytree(bundled_fixtures() / cls.corpus.name, data)
        (data / "relation2id.txt").unlink()
        builder, _ = build(cls, "unified", data, tmp_path / "cache" / cls.corpus.name)
        assert builder.schema_path is None
        assert builder.label_schema() == cls().read_schema(str(bundled_fixtures() / cls.corpus.name / "relation2id.txt"))


# ---------------------------------------------------------------- the real samples


@needs_samples
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_sample_line_converts(name, samples_raw, tmp_path):
    cls, data = BUILDERS[name], samples_raw / name
    raw_builder, raw = build(cls, "raw", data, tmp_path)
    unified_builder, unified = build(cls, "unified", data, tmp_path)
    labels = {label for label, _ in unified_builder.label_schema()["types"]}
    for split, file_name in (("train", "train.txt"), ("validation", "valid.txt"), ("test", "test.txt")):
        lines = [l for l in (data / file_name).read_text(encoding="utf-8").splitlines() if l.strip()]
        report = raw_builder.report[split]
        assert report["rejected"] == [] and report["read"] == report["written"] == len(raw[split]) == len(lines)
        assert unified_builder.report[split]["unified_rejected"] == []
        # One unified record per distinct sentence, holding every relation line of it but "unknown".
        assert len(unified[split]) == len({r["sentence"] for r in raw[split]})
        relation_lines = {(r["head"], r["tail"], r["relation"]) for r in raw[split] if r["relation"] != "unknown"}
        relations = {(r["head"]["text"], r["tail"]["text"], r["type"]) for rec in unified[split] for r in rec["relations"]}
        assert relations == relation_lines and {t for _, _, t in relations} <= labels
        for record in unified[split]:
            assert_spans_valid(record)
