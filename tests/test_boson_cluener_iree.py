"""Edge cases of BosonNLP NER (inline markup and derived BMES), CLUENER2020 and IREE (assumed
DuEE-style), and of the shared DuEE-style event conversion ``chinchilla_datasets.duee_events``."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import datasets
import pytest

from builders.boson_ner import (
    CORPUS as BOSON,
    NORMALISED_TAG,
    REPAIRED_MARKUP,
    TRIMMED_MENTION,
    UNREADABLE_MARKUP,
    BosonNER,
    bmes_tags,
    document_split,
    parse_markup,
)
from builders.cluener import CLUENER, label_struct
from builders.duee import DuEE
from builders.duee_fin import DuEEFin
from builders.iree import IREE
from chinchilla_datasets.duee_events import (
    GROUNDED_IN_TITLE,
    not_event_record,
    offset_locator,
    title_body_text,
    unified_events,
)
from chinchilla_datasets.sources import Reject, read_json_lines
from chinchilla_datasets.tagged import tagged_entities

from conftest import SAMPLES, needs_samples

FIXTURES = Path(__file__).resolve().parents[1] / "chinchilla_datasets" / "fixtures"


def build(cls, data_dir: Path, cache: Path, view: str = "unified"):
    builder = cls(config_name=f"{cls.corpus.name}_{view}", data_dir=str(data_dir), cache_dir=str(cache / view))
    builder.download_and_prepare(download_mode="force_redownload")
    return builder, builder.as_dataset()


def assert_clean(builder) -> None:
    for split, counts in builder.report.items():
        assert counts["read"] == counts["written"] + len(counts["rejected"]) > 0, split
        assert counts["rejected"] == [] and counts.get("unified_rejected", []) == [], (split, counts)


def entity_count(dataset_dict) -> int:
    """Assert every entity / trigger / argument span matches its mention; return the entity count."""
    count = 0
    for split in dataset_dict.values():
        for record in split:
            spans = list(record["entities"])
            for event in record["events"]:
                spans += [event["trigger"], *event["arguments"]]
            for span in spans:
                if span["start"] is not None:
                    assert record["text"][span["start"] : span["end"]] == span["text"], (record["id"], span)
            count += len(record["entities"])
    return count


# ================================================================ BosonNLP: inline markup
def test_whitespace_inside_a_mark_stays_in_text_and_is_trimmed_from_the_span():
    text, entities, flags = parse_markup("记者{{person_name: 林晓岚}}和{{org_name:\u00a0市教育局}}{{person_name:\t王晨}}{{product_name:途锐Q7 }}。")
    assert text == "记者 林晓岚和\u00a0市教育局\t王晨途锐Q7 。"
    assert [(e["text"], e["start"], e["end"]) for e in entities] == [
        ("林晓岚", 3, 6),
        ("市教育局", 8, 12),
        ("王晨", 13, 15),
        ("途锐Q7", 15, 19),
    ]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)
    assert flags == [TRIMMED_MENTION]


def test_literal_newline_escapes_become_newlines_before_offsets_are_counted():
    line = "存款增加 \\n\\n     {{time:季末}} 余额{{time:当天下午2:30}}\\n\\n"
    text, entities, flags = parse_markup(line)
    assert "\\n" not in text and text.count("\n") == 4
    assert [text[e["start"] : e["end"]] for e in entities] == ["季末", "当天下午2:30"]  # a colon inside a mention
    assert flags == []


def test_adjacent_single_character_marks_stay_separate_entities():
    text, entities, _ = parse_markup("{{location:京}}{{location:沪}}两地")
    assert [(e["text"], e["start"]) for e in entities] == [("京", 0), ("沪", 1)]
    assert bmes_tags(len(text), entities) == ["S-location", "S-location", "O", "O"]


@pytest.mark.parametrize(
    "line, text, mentions",
    [
        # The two faults of the real corpus (own sentences in their shape): a mark missing its
        # "{{", and a mark opened with one "{" at the start of a line.
        ("请联系org_name:市消协}}核实，{{time:周五}}前答复", "请联系市消协核实，周五前答复", ["市消协", "周五"]),
        ("{time:第71分钟}}{{person_name:赵晨}}扳平比分", "第71分钟赵晨扳平比分", ["第71分钟", "赵晨"]),
        ("{{time:今天}}}}上午", "今天上午", ["今天"]),  # a doubled closing
        ("{{location:郊外}}和product_name:云帆X2}}", "郊外和云帆X2", ["郊外", "云帆X2"]),
    ],
)
def test_unambiguous_markup_faults_are_repaired_and_flagged(line, text, mentions):
    parsed_text, entities, flags = parse_markup(line)
    assert parsed_text == text and [e["text"] for e in entities] == mentions
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)
    assert flags == [REPAIRED_MARKUP]


@pytest.mark.parametrize(
    "line, text, mentions",
    [
        ("{{time:今天上午，{{person_name:李明}}到达", "{{time:今天上午，李明到达", ["李明"]),  # a mark left open
        ("他说{{location北京}}很好，{{person_name:王五}}同意", "他说{{location北京}}很好，王五同意", ["王五"]),
        ("{{city:北京}}和{{location:上海}}", "{{city:北京}}和上海", ["上海"]),  # an unknown type
        ("{{time: }}{{time:明天}}", "{{time: }}明天", ["明天"]),  # an empty mention
        ("Newtime:三月}}{{org_name:统计局}}", "Newtime:三月}}统计局", ["统计局"]),  # a type glued to letters: not repaired
        ("{{product_name:time:v2}}上线", "time:v2上线", ["time:v2"]),  # a type-like mention is left alone
    ],
)
def test_unreadable_markup_stays_as_text_and_keeps_the_other_mentions(line, text, mentions):
    parsed_text, entities, flags = parse_markup(line)
    assert parsed_text == text and [e["text"] for e in entities] == mentions
    assert all(text[e["start"] : e["end"]] == e["text"] for e in entities)
    assert flags == ([] if "{{product_name:time" in line else [UNREADABLE_MARKUP])


def test_documents_with_markup_faults_are_kept_with_every_other_mention(tmp_path):
    """A file of 20 documents, two with the corpus's faults: all 20 documents are built, none rejected."""
    lines = [f"第{i}篇{{{{location:城{i}}}}}的{{{{person_name:人{i}}}}}" for i in range(20)]
    lines[8] = "联系org_name:银监会}}的{{person_name:刘一}}，{{location:西城}}"  # index 8: validation
    lines[9] = "{time:第28分钟}}{{person_name:孙二}}射门，{{org_name:足协}}"  # index 9: test
    data = tmp_path / "data"
    data.mkdir()
    (data / "origindata.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    builder, unified = build(BosonNER, data, tmp_path)
    assert_clean(builder)
    assert {s: len(ds) for s, ds in unified.items()} == {"train": 16, "validation": 2, "test": 2}
    repaired = {r["id"]: r for ds in unified.values() for r in ds if REPAIRED_MARKUP in r["flags"]}
    assert sorted(repaired) == ["boson_ner-test-10", "boson_ner-validation-9"]
    assert [e["text"] for e in repaired["boson_ner-validation-9"]["entities"]] == ["银监会", "刘一", "西城"]
    assert [e["text"] for e in repaired["boson_ner-test-10"]["entities"]] == ["第28分钟", "孙二", "足协"]


def test_misspelt_ime_mark_is_read_as_time_and_flagged():
    text, entities, flags = parse_markup("{{ime:昨天}}到了")
    assert entities == [{"type": "time", "text": "昨天", "start": 0, "end": 2}] and flags == [NORMALISED_TAG]


def test_documents_are_split_8_1_1_by_index():
    assert [document_split(i) for i in range(20)] == (["train"] * 8 + ["validation", "test"]) * 2


def test_inline_fixture_every_split_reads_the_same_file(tmp_path):
    lines = (FIXTURES / "boson_ner" / "origindata.txt").read_text(encoding="utf-8").split("\n")
    documents = [i for i, line in enumerate(lines) if line.strip()]
    raw_builder, raw = build(BosonNER, FIXTURES / "boson_ner", tmp_path, "raw")
    assert_clean(raw_builder)
    assert set(raw_builder.source_files.values()) == {str(FIXTURES / "boson_ner" / "origindata.txt")}
    ids = {split: [int(i) for i in ds["id"]] for split, ds in raw.items()}
    assert sorted(i for split_ids in ids.values() for i in split_ids) == documents
    assert all(document_split(i) == split for split, split_ids in ids.items() for i in split_ids)

    unified_builder, unified = build(BosonNER, FIXTURES / "boson_ner", tmp_path)
    assert_clean(unified_builder)
    names = raw["train"].features["ner_tags"].feature
    for split in raw:
        for row, record in zip(raw[split], unified[split]):
            assert row["markup"] == lines[int(row["id"])]  # the source line, verbatim
            assert "".join(row["tokens"]) == record["text"]
            _, decoded = tagged_entities(row["tokens"], [names.int2str(t) for t in row["ner_tags"]])
            assert decoded == record["entities"]  # the raw tags carry exactly the unified entities
    assert entity_count(unified) == 61
    flagged = [r["id"] for ds in unified.values() for r in ds if TRIMMED_MENTION in r["flags"]]
    assert len(flagged) == 6


def test_fixed_copy_without_escapes_gives_the_same_entities(tmp_path):
    """BosonNLP_NER_6C.txt is the same documents without the literal \\n escapes: same mentions."""
    original = (FIXTURES / "boson_ner" / "origindata.txt").read_text(encoding="utf-8")
    (tmp_path / "fixed").mkdir()
    (tmp_path / "fixed" / "BosonNLP_NER_6C.txt").write_text(original.replace("\\n", "").rstrip("\n"), encoding="utf-8")
    _, fixed = build(BosonNER, tmp_path / "fixed", tmp_path / "cache_fixed")
    _, unescaped = build(BosonNER, FIXTURES / "boson_ner", tmp_path / "cache_original")
    for split in fixed:
        for a, b in zip(fixed[split], unescaped[split]):
            assert a["text"] == b["text"].replace("\n", "")
            assert [(e["type"], e["text"]) for e in a["entities"]] == [(e["type"], e["text"]) for e in b["entities"]]


def test_json_lines_under_the_inline_name_are_rejected_as_foreign(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(FIXTURES / "cluener" / "train.json", tmp_path / "data" / "BosonNLP_NER_6C.txt")
    builder = BosonNER(config_name="boson_ner_raw", data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare(download_mode="force_redownload")
    reasons = {r["reason"] for counts in builder.report.values() for r in counts["rejected"]}
    assert reasons == {"a JSON object, not an inline-marked document: keys found ['label', 'text']"}
    assert sum(counts["written"] for counts in builder.report.values()) == 0


def test_inline_file_is_preferred_to_the_bmes_files(tmp_path):
    both = tmp_path / "both"
    shutil.copytree(FIXTURES / "boson_ner_bmes", both)
    shutil.copy(FIXTURES / "boson_ner" / "origindata.txt", both)
    builder, _ = build(BosonNER, both, tmp_path / "cache")
    assert {Path(p).name for p in builder.source_files.values()} == {"origindata.txt"}


def test_download_is_the_pinned_unmodified_copy_and_instructions_name_the_others():
    assert list(BOSON.urls) == ["origindata.txt"]
    assert "/65fc49b20af96c9f1ae159bef7f04b9e56157fda/" in BOSON.urls["origindata.txt"]
    assert BOSON.manual and not BOSON.redistributable
    text = BosonNER(config_name="boson_ner_raw").manual_download_instructions
    assert "bosonnlp.com" in text and "BosonNLP_NER_6C.txt" in text and "origindata.txt" in text and ".bmes" in text


# ================================================================ BosonNLP: derived BMES
def test_bmes_typo_tags_kept_in_raw_normalised_and_counted_in_unified(tmp_path):
    data = FIXTURES / "boson_ner_bmes"
    assert b"\r\n" in (data / "boson.train.bmes").read_bytes()
    raw_builder, raw = build(BosonNER, data, tmp_path, "raw")
    assert_clean(raw_builder)
    names = raw["train"].features["ner_tags"].feature
    train_tags = [names.int2str(t) for row in raw["train"] for t in row["ner_tags"]]
    assert {"B-ime", "M-ime", "E-ime"} <= set(train_tags)
    assert raw["train"]["markup"] == [None] * len(raw["train"])

    builder, unified = build(BosonNER, data, tmp_path)
    assert_clean(builder)
    types = {e["type"] for ds in unified.values() for r in ds for e in r["entities"]}
    assert "ime" not in types and types <= set(BOSON.labels)
    flagged = [r for r in unified["train"] if NORMALISED_TAG in r["flags"]]
    assert len(flagged) == 1 and flagged[0]["entities"][0] == {"type": "time", "text": "昨天下午", "start": 0, "end": 4}
    assert entity_count(unified) == 19


# ================================================================ CLUENER2020
def test_cluener_end_inclusive_spans_become_one_entity_per_span():
    builder = CLUENER(config_name="cluener_unified")
    text = "书评人认为《远航科技：一家公司的二十年》值得一读，远航科技也借此提升了知名度"
    label = label_struct({"company": {"远航科技": [[6, 9], [25, 28]]}, "book": {"《远航科技：一家公司的二十年》": [[5, 19]]}})
    raw = {"id": None, "text": text, "label": {t: label.get(t) for t in CLUENER.raw_features["label"]}}
    record = builder.to_unified(raw)
    assert [(e["type"], e["start"], e["end"]) for e in record["entities"]] == [
        ("book", 5, 20),
        ("company", 6, 10),  # nested in the book title
        ("company", 25, 29),
    ]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in record["entities"]) and record["flags"] == []


def test_cluener_label_spelling_and_malformed_labels():
    assert label_struct({"goverment": {"市财政局": [[0, 3]]}}) == {"government": [{"mention": "市财政局", "spans": [[0, 3]]}]}
    for label, reason in (
        ({"city": {"北京": [[0, 1]]}}, "unknown entity type 'city'"),
        ({"name": {"张三": [0, 1]}}, "list of [start, end] pairs"),
        ({"name": ["张三"]}, "expected an object mention -> spans"),
    ):
        rejected = label_struct(label)
        assert isinstance(rejected, Reject) and reason in rejected.reason


def test_cluener_fixture_keeps_every_span_and_test_is_raw_only(tmp_path):
    raw_builder, raw = build(CLUENER, FIXTURES / "cluener", tmp_path, "raw")
    assert_clean(raw_builder)
    assert raw["test"][0]["id"] == 0 and raw["test"][0]["label"] is None
    assert raw["train"][0]["id"] is None and raw["train"][0]["label"]["game"] is None
    spans = sum(len(m["spans"]) for ds in (raw["train"], raw["validation"]) for r in ds for ms in r["label"].values() if ms for m in ms)
    builder, unified = build(CLUENER, FIXTURES / "cluener", tmp_path)
    assert set(unified) == {"train", "validation"}
    assert entity_count(unified) == spans == 22
    one_bracket = [e for r in unified["validation"] for e in r["entities"] if e["type"] == "game"]
    assert one_bracket[0]["text"] == "山海奇谈》"


def test_cluener_official_zip_in_data_dir(tmp_path):
    archive = tmp_path / "data" / "cluener_public.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("train.json", "dev.json", "test.json"):
            z.write(FIXTURES / "cluener" / name, name)
    builder, unified = build(CLUENER, archive.parent, tmp_path / "cache")
    assert_clean(builder)
    assert {s: len(ds) for s, ds in unified.items()} == {"train": 6, "validation": 3}


# ================================================================ IREE and the shared DuEE-style conversion
def test_shared_event_conversion_matches_duee_and_duee_fin():
    """DuEE.to_unified / DuEEFin.to_unified could call chinchilla_datasets.duee_events unchanged."""
    duee, duee_fin = DuEE(config_name="duee_unified"), DuEEFin(config_name="duee_fin_unified")
    for _, raw in read_json_lines(str(FIXTURES / "duee" / "duee_train.json")):
        flags = []
        assert unified_events(raw["event_list"], offset_locator(raw["text"], flags)) == duee.to_unified(raw)["events"]
        assert flags == duee.to_unified(raw)["flags"]
    for _, raw in read_json_lines(str(FIXTURES / "duee_fin" / "duee_fin_train.json")):
        raw.setdefault("event_list", None)
        flags = []
        text, locate = title_body_text(raw["title"], raw["text"], flags)
        expected = duee_fin.to_unified(raw)
        assert (text, unified_events(raw["event_list"], locate), flags) == (expected["text"], expected["events"], expected["flags"])


def test_not_event_record_names_what_it_found():
    assert not_event_record({"text": "某公司回购股份", "id": "1"}) is None  # no events / unlabelled
    assert not_event_record({"text": "x", "spo_list": []}) == "not a DuEE-style event record: keys found ['spo_list', 'text']"
    assert "keys found ['event_type', 'role_list']" in not_event_record({"event_type": "质押", "role_list": []})
    assert "event_list[0] keys found ['type']" in not_event_record({"text": "x", "event_list": [{"type": "质押"}]})


def test_iree_fixture_offsets_titles_and_event_less_documents(tmp_path):
    builder, unified = build(IREE, FIXTURES / "iree", tmp_path)
    assert_clean(builder)
    assert set(unified) == {"train", "validation"}
    entity_count(unified)
    records = {r["text"].split("\n")[0]: r for r in unified["train"]}
    titled = records["金桥电子股东拟减持"]
    assert GROUNDED_IN_TITLE in titled["flags"]
    target = [a for a in titled["events"][0]["arguments"] if a["role"] == "被减持方"][0]
    assert (target["start"], target["end"]) == (0, 4)
    assert sum(not r["events"] for r in unified["train"]) == 1
    assert max(len(r["events"]) for r in unified["train"]) == 2
    assert builder.label_schema()["roles"]["质押"] == ["质押方", "质押物", "质权方"]


def test_iree_numeric_ids_are_read_as_strings(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "iree_test.json").write_text('{"id": 7, "text": "某银行公告称将发行二级资本债。"}\n', encoding="utf-8")
    builder, raw = build(IREE, tmp_path / "data", tmp_path, "raw")
    assert raw["test"][0]["id"] == "7" and raw["test"][0]["event_list"] is None


def test_iree_file_in_another_format_is_rejected_line_by_line_naming_what_it_holds(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(FIXTURES / "duie" / "duie_train.json", tmp_path / "data" / "iree_train.json")
    shutil.copy(FIXTURES / "iree" / "iree_dev.json", tmp_path / "data")
    builder = IREE(config_name="iree_raw", data_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare(download_mode="force_redownload")  # completes: no crash
    report = builder.report["train"]
    lines = [l for l in (tmp_path / "data" / "iree_train.json").read_text(encoding="utf-8").splitlines() if l.strip()]
    assert report["written"] == 0 and len(report["rejected"]) == report["read"] == len(lines)
    assert {r["reason"] for r in report["rejected"]} == {"not a DuEE-style event record: keys found ['spo_list', 'text']"}
    assert builder.report["validation"]["rejected"] == []


def test_iree_mixed_file_rejects_only_the_foreign_lines(tmp_path):
    (tmp_path / "data").mkdir()
    good = (FIXTURES / "iree" / "iree_train.json").read_text(encoding="utf-8").splitlines()[0]
    lines = [good, json.dumps({"sentence": "某公司", "events": []}, ensure_ascii=False), "[1, 2]"]
    (tmp_path / "data" / "iree_train.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    builder, raw = build(IREE, tmp_path / "data", tmp_path, "raw")
    assert len(raw["train"]) == 1
    reasons = [r["reason"] for r in builder.report["train"]["rejected"]]
    assert reasons == ["not a DuEE-style event record: keys found ['events', 'sentence']", "expected a JSON object, got list"]


def test_iree_without_data_dir_asks_for_the_manual_download(tmp_path):
    builder = IREE(config_name="iree_raw", cache_dir=str(tmp_path))
    with pytest.raises(datasets.exceptions.ManualDownloadError) as err:
        builder.download_and_prepare()
    assert "iree_train.json" in str(err.value) and "luge.ai" in str(err.value)


# ================================================================ real samples
@needs_samples
@pytest.mark.parametrize(
    "files, counts",
    [
        ({"BosonNER/BosonNLP_NER_6C.txt": "BosonNLP_NER_6C.txt"}, {"train": 160, "validation": 20, "test": 20}),
        ({"BosonNER_InsaneLife/origindata.txt": "origindata.txt"}, {"train": 160, "validation": 20, "test": 20}),
        ({f"BosonNER/boson.{s}.bmes": f"boson.{s}.bmes" for s in ("train", "dev", "test")}, {"train": 200, "validation": 200, "test": 200}),
    ],
    ids=["6C", "origindata", "bmes"],
)
def test_boson_samples_build_clean(tmp_path, files, counts):
    data = tmp_path / "data"
    data.mkdir()
    for source, name in files.items():
        shutil.copy(SAMPLES / source, data / name)
    builder, unified = build(BosonNER, data, tmp_path)
    assert_clean(builder)
    assert {s: len(ds) for s, ds in unified.items()} == counts
    # 1653 marks in the first 200 documents; 1202 B-/S- tags in the first 200 sentences of each BMES file.
    assert entity_count(unified) == (1202 if "bmes" in next(iter(files.values())) else 1653)


@needs_samples
def test_cluener_samples_keep_every_span(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    spans = 0
    for name in ("train.json", "dev.json", "test.json"):
        shutil.copy(SAMPLES / "CLUENER2020" / name, data / name)
        if name != "test.json":
            for _, record in read_json_lines(str(data / name)):
                spans += sum(len(s) for mentions in record["label"].values() for s in mentions.values())
    raw_builder, raw = build(CLUENER, data, tmp_path, "raw")
    assert_clean(raw_builder)
    assert len(raw["test"]) == 200
    builder, unified = build(CLUENER, data, tmp_path)
    assert_clean(builder)
    assert entity_count(unified) == spans
    assert not any(r["flags"] for ds in unified.values() for r in ds)  # every source offset is right
