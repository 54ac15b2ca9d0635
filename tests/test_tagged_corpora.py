"""Edge cases of the character-tagged NER corpora (MSRA, Weibo, Resume, People's Daily) and their
shared reader ``chinchilla_datasets.tagged``; builds of the fixtures and of the real samples."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builders.msra_ner import MSRANER, parse_word_line
from builders.peoples_daily_ner import PeoplesDailyNER
from builders.resume_ner import ResumeNER
from builders.weibo_ner import WeiboNER, strip_positions
from chinchilla_datasets.sources import Reject
from chinchilla_datasets.tagged import (
    BMES,
    ILL_FORMED_TAGS,
    read_tagged_blocks,
    split_token_tag,
    tag_names,
    tagged_entities,
    tagged_to_unified,
)

from conftest import SAMPLES, build_views, needs_samples

FIXTURES = Path(__file__).resolve().parents[1] / "chinchilla_datasets" / "fixtures"
BUILDERS = [MSRANER, WeiboNER, ResumeNER, PeoplesDailyNER]


def spans_valid(dataset_dict) -> int:
    """Assert every entity span matches its mention; return the number of entities."""
    count = 0
    for split in dataset_dict.values():
        for record in split:
            for e in record["entities"]:
                assert record["text"][e["start"] : e["end"]] == e["text"], (record["id"], e)
                count += 1
    return count


def assert_accounted(report: dict, rejected: int = 0) -> None:
    for counts in report.values():
        assert counts["read"] == counts["written"] + len(counts["rejected"])
    assert sum(len(c["rejected"]) for c in report.values()) == rejected, report


def build(cls, data_dir: Path, cache: Path, view: str = "unified"):
    builder = cls(config_name=f"{cls.corpus.name}_{view}", data_dir=str(data_dir), cache_dir=str(cache))
    builder.download_and_prepare(download_mode="force_redownload")
    return builder, builder.as_dataset()


# ---------------------------------------------------------------- shared reader
def test_tag_names_order_is_outside_then_each_type():
    assert tag_names(["PER", "ORG"]) == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]
    assert tag_names(["NAME"], BMES) == ["O", "B-NAME", "M-NAME", "E-NAME", "S-NAME"]
    assert MSRANER.raw_features["ner_tags"].feature.names == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def test_split_token_tag_uses_the_last_separator_and_ignores_trailing_space():
    assert split_token_tag("中 B-LOC ", " ") == ("中", "B-LOC")
    assert split_token_tag("  O", " ") == (" ", "O")  # a space token
    assert split_token_tag("中\t", "\t") is None
    assert split_token_tag("\tO", "\t") is None


def test_offsets_follow_token_lengths_not_token_indexes():
    tokens = ["\ufffd\ufffd", "去", "西", "湖"]
    text, entities = tagged_entities(tokens, ["O", "O", "B-LOC.NAM", "I-LOC.NAM"])
    assert text == "\ufffd\ufffd去西湖"
    assert entities == [{"type": "LOC.NAM", "text": "西湖", "start": 3, "end": 5}]


def test_unified_accepts_classlabel_ids_and_flags_a_dangling_continuation():
    names = ResumeNER.raw_features["ner_tags"].feature.names
    ids = [names.index(t) for t in ["S-NAME", "O", "B-ORG", "E-ORG"]]
    record = tagged_to_unified({"id": "0", "tokens": list("王任本司"), "ner_tags": ids}, names)
    assert [(e["type"], e["text"]) for e in record["entities"]] == [("NAME", "王"), ("ORG", "本司")]
    assert record["flags"] == []
    repaired = tagged_to_unified({"id": "1", "tokens": list("的小伙伴"), "ner_tags": ["O", "I-PER.NOM", "I-PER.NOM", "I-PER.NOM"]})
    assert repaired["entities"][0]["text"] == "小伙伴" and repaired["flags"] == [ILL_FORMED_TAGS]


def test_unknown_tag_and_malformed_line_reject_only_their_sentence(tmp_path):
    data = tmp_path / "resume"
    data.mkdir()
    (data / "train.char.bmes").write_bytes(
        "张 B-NAME\r\n三 E-NAME\r\n\r\n王 B-NAM\r\n五 E-NAM\r\n\r\n李\r\n四 O\r\n\r\n汉 S-RACE\r\n族 O\r\n".encode()
    )
    builder, ds = build(ResumeNER, data, tmp_path / "cache")
    rejected = builder.report["train"]["rejected"]
    assert [r["line"] for r in rejected] == [4, 7]
    assert "unknown tag 'B-NAM'" in rejected[0]["reason"] and "line 7" in rejected[1]["reason"]
    assert [r["text"] for r in ds["train"]] == ["张三", "汉族"]  # CRLF stripped
    assert_accounted(builder.report, rejected=2)


# ---------------------------------------------------------------- MSRA
def test_msra_word_line_splits_on_the_last_slash_and_keeps_adjacent_entities_apart():
    chars, tags = parse_word_line("江苏/ns 浙江/ns 1/2/o 新华社/nt ")
    assert "".join(chars) == "江苏浙江1/2新华社"
    assert tags[:4] == ["B-LOC", "I-LOC", "B-LOC", "I-LOC"] and tags[4:7] == ["O"] * 3
    text, entities = tagged_entities(chars, tags)
    assert [(e["text"], e["start"]) for e in entities] == [("江苏", 0), ("浙江", 2), ("新华社", 7)]
    assert parse_word_line("北京/ns 人民/xx") == Reject("unknown word tag 'xx' in '人民/xx'")
    assert isinstance(parse_word_line("北京/ns /o"), Reject)


def test_msra_gb_encoded_sighan_file_reads_like_utf8(tmp_path):
    data = tmp_path / "msra"
    data.mkdir()
    for name in ("train1.txt", "testright1.txt"):
        text = (FIXTURES / "msra_ner" / name).read_text(encoding="utf-8")
        (data / name).write_bytes(text.encode("gb18030"))
    _, gb = build(MSRANER, data, tmp_path / "gb", "raw")
    _, utf8 = build(MSRANER, FIXTURES / "msra_ner", tmp_path / "utf8", "raw")
    assert gb["train"].to_list() == utf8["train"].to_list()


def test_msra_both_formats_give_the_same_features_and_test1_is_raw_only(tmp_path):
    views = build_views(MSRANER, FIXTURES / "msra_ner", tmp_path / "sighan")
    raw = views["raw"][1]
    assert set(raw) == {"train", "test", "test1"} and set(views["unified"][1]) == {"train", "test"}
    assert raw["test1"][0]["ner_tags"] is None
    assert "".join(raw["test1"][1]["tokens"]) == views["unified"][1]["test"][1]["text"]
    train = views["unified"][1]["train"][2]
    assert "ＣＰＵ/ＧＰＵ" in train["text"]
    assert [e["text"] for e in train["entities"] if e["type"] == "PER"] == ["李晓东", "王红"]

    bio = build_views(MSRANER, FIXTURES / "msra_ner_bio", tmp_path / "bio")
    assert bio["raw"][1]["train"].features == raw["train"].features
    assert bio["unified"][0].source_files["train"].endswith("msra_train_bio.txt")


# ---------------------------------------------------------------- Weibo
def test_weibo_positions_are_stripped_by_following_the_count():
    fields = ["h0", "t1", "t2", "p3", ":4", "/5", "/6", "t7", ".8", "c9", "n10", "/11", "312", "k13"]
    assert "".join(strip_positions(fields)) == "http://t.cn/3k"
    assert strip_positions(["20", "01", "12", "33", "年0"]) == list("2013年")
    assert strip_positions(["\ufffd\ufffd0", "好0"]) == ["\ufffd\ufffd", "好"]
    assert isinstance(strip_positions(["好0", "的"]), Reject)


def test_weibo_fixture_keeps_nominal_suffixes_and_flags_the_repaired_sentence(tmp_path):
    _, ds = build(WeiboNER, FIXTURES / "weibo_ner", tmp_path / "cache")
    types = {e["type"] for split in ds.values() for r in split for e in r["entities"]}
    assert {"PER.NAM", "PER.NOM", "GPE.NOM", "ORG.NOM"} <= types
    flagged = [r["text"] for r in ds["train"] if ILL_FORMED_TAGS in r["flags"]]
    assert flagged == ["可爱的小伙伴们，周末愉快"]
    assert ds["train"][2]["text"] == "转发微博http://t.cn/zYx3kQp"


# ---------------------------------------------------------------- fixtures and samples
@pytest.mark.parametrize("cls", BUILDERS, ids=lambda c: c.corpus.name)
def test_fixture_builds_every_view_without_rejections(cls, tmp_path):
    views = build_views(cls, FIXTURES / cls.corpus.name, tmp_path)
    assert set(views) == {"raw", "unified", "instruct"}
    for builder, _ in views.values():
        assert_accounted(builder.report)
    assert spans_valid(views["unified"][1]) > 0
    assert {"train", "test"} <= set(views["unified"][1])


@needs_samples
@pytest.mark.parametrize("cls", BUILDERS, ids=lambda c: c.corpus.name)
def test_real_samples_convert_without_rejections(cls, samples_raw, tmp_path):
    builder, ds = build(cls, samples_raw / cls.corpus.name, tmp_path)
    assert_accounted(builder.report)
    assert all(c["unified"] == c["written"] == 200 for c in builder.report.values())
    assert spans_valid(ds) > 100
    flagged = sum(ILL_FORMED_TAGS in r["flags"] for split in ds.values() for r in split)
    # Weibo's source has four sentences whose entity starts with I- (3 in test, 1 in train).
    assert flagged == (4 if cls is WeiboNER else 0)


@needs_samples
def test_real_msra_char_bio_sample_matches_the_sighan_entity_types(tmp_path):
    data = tmp_path / "msra_bio"
    data.mkdir()
    shutil.copy(SAMPLES / "MSRA" / "msra_test_bio.txt", data)
    builder, ds = build(MSRANER, data, tmp_path / "cache")
    assert_accounted(builder.report)
    assert builder.report["test"]["written"] == 200
    assert {e["type"] for r in ds["test"] for e in r["entities"]} == {"PER", "LOC", "ORG"}
    spans_valid(ds)


@needs_samples
def test_real_weibo_sample_has_lost_emoji_as_replacement_pairs():
    path = SAMPLES / "WeiboNER" / "weiboNER_2nd_conll.dev"
    sentences = [item for _, item in read_tagged_blocks(str(path), "\t")]
    tokens = [t for fields, _ in sentences for t in strip_positions(fields)]
    assert "\ufffd\ufffd" in tokens and all(len(t) == 1 or t == "\ufffd\ufffd" for t in tokens)
