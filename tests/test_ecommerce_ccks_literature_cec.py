"""E-commerce NER, CCKS 2020 military NER, Chinese Literature (brat documents and NER sentences) and
CEC: their real samples (skipped when ../shared/samples is absent) against counts taken
independently from the raw files, and the quirks of each format on small inputs written here."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from builders.ccks2020_military_ner import LOST_PUNCTUATION, CCKS2020MilitaryNER
from builders.cec import CEC, document_record, event_ids, to_unified_record as cec_unified
from builders.chinese_literature import (
    DISCONTINUOUS,
    MENTION_TEXT_DIFFERS,
    SPANS_LINE_BREAK,
    UNKNOWN_ENTITY_ID,
    ChineseLiterature,
    parse_ann,
    to_unified_record as literature_unified,
)
from builders.chinese_literature_ner import ChineseLiteratureNER
from builders.ecommerce_ner import EcommerceNER
from chinchilla_datasets.collection import build_collection, bundled_fixtures
from chinchilla_datasets.outputs import REPORT_FILE
from chinchilla_datasets.schema import spans_of
from chinchilla_datasets.spans import AMBIGUOUS, OFFSET_CORRECTED, UNGROUNDED, decode_tags, split_tag
from chinchilla_datasets.tagged import ILL_FORMED_TAGS, tagged_to_unified

from conftest import SAMPLES, build_views, unified_totals

BUILDERS = {
    "ecommerce_ner": EcommerceNER,
    "ccks2020_military_ner": CCKS2020MilitaryNER,
    "chinese_literature": ChineseLiterature,
    "chinese_literature_ner": ChineseLiteratureNER,
    "cec": CEC,
}
TOTALS = ("records", "entities", "relations", "events", "arguments")


# ---------------------------------------------------------------- independent counts of the raw files
def zero() -> dict:
    return dict.fromkeys(TOTALS, 0)


def count_tagged(path: Path, begin: tuple) -> dict:
    """Sentences (blank-line separated) and entities (tags opening one) of a char-per-line file."""
    counts = zero()
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip("\n")):
        counts["records"] += 1
        counts["entities"] += sum(line.rsplit(None, 1)[-1].startswith(begin) for line in block.split("\n"))
    return counts


def count_ccks_train(folder: Path) -> dict:
    counts = zero()
    for path in folder.glob("train_V2_*.json"):
        document = json.loads(path.read_bytes().decode("gbk"))
        counts["records"] += 1
        counts["entities"] += len(document["entities"])
    return counts


def count_brat(folder: Path) -> dict:
    """Documents, T lines, and R lines plus n - 1 per coreference set of n members."""
    counts = zero()
    for ann in folder.glob("*.ann"):
        counts["records"] += 1
        for line in ann.read_text(encoding="utf-8").split("\n"):
            if re.match(r"T\d+\t", line):
                counts["entities"] += 1
            elif re.match(r"R\d+\t", line):
                counts["relations"] += 1
            elif line.startswith("*\t"):
                counts["relations"] += len(line.split()) - 3  # "*", the type, then n members
    return counts


def count_cec(folder: Path) -> dict:
    """Events, their annotation children and the event pairs each eRelation names, by regular expressions."""
    counts = zero()
    for path in folder.glob("*/*.xml"):
        xml = path.read_text(encoding="utf-8")
        counts["records"] += 1
        counts["events"] += len(re.findall(r"<Event[\s>]", xml))
        counts["arguments"] += len(re.findall(r"<(?:Participant|participant|Object|Time|Location|Means|means)[\s>]", xml))
        numbers = {int(n) for n in re.findall(r'\beid="e(\d+)"', xml)}
        for relation in re.findall(r"<eRelation([^>]*)/?>", xml):
            ends = [value for name, value in re.findall(r'(\w+)="([^"]*)"', relation) if name.endswith(("_eid", "_eids"))]
            sizes = []
            for value in ends:
                size = 0
                for item in value.split(","):
                    low, _, high = item.strip().partition("-")
                    size += sum(n in numbers for n in range(int(low[1:]), int(high.lstrip("e")) + 1)) if high else 1
                sizes.append(size)
            counts["relations"] += sizes[0] * sizes[1]
    return counts


def prepare(cls, folder: Path, cache: Path, view: str = "raw") -> tuple:
    """One view of a builder: ``(builder, DatasetDict)``."""
    builder = cls(config_name=f"{cls.corpus.name}_{view}", data_dir=str(folder), cache_dir=str(cache))
    builder.download_and_prepare(download_mode="force_redownload")
    return builder, builder.as_dataset()




# corpus -> (how the sample is copied into the corpus folder, {split: independent count of the sample})
def _copy(source: str, pattern: str, keep_parents: int = 0):
    def copy(folder: Path) -> None:
        for path in (SAMPLES / source).glob(pattern):
            target = folder.joinpath(*path.parts[len(path.parts) - 1 - keep_parents :])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)

    return copy


SAMPLE_SPLITS = {
    "ecommerce_ner": (
        _copy("EcommerceNER", "*.bieos"),
        {
            split: (lambda name: lambda: count_tagged(SAMPLES / "EcommerceNER" / name, ("B-", "S-")))(name)
            for split, name in (("train", "train.txt.bieos"), ("validation", "dev.txt.bieos"), ("test", "test.txt.bieos"))
        },
    ),
    "ccks2020_military_ner": (
        _copy("CCKS2020MilitaryNER", "ccks_8_data_v2/**/*.json", keep_parents=2),
        {"train": lambda: count_ccks_train(SAMPLES / "CCKS2020MilitaryNER" / "ccks_8_data_v2" / "train")},
    ),
    "chinese_literature": (
        _copy("ChineseLiterature", "relation_extraction/*/*", keep_parents=1),
        {
            split: (lambda folder: lambda: count_brat(SAMPLES / "ChineseLiterature" / "relation_extraction" / folder))(folder)
            for split, folder in (("train", "Training"), ("validation", "Validation"), ("test", "Testing"))
        },
    ),
    "chinese_literature_ner": (
        _copy("ChineseLiterature", "ner/*.txt", keep_parents=1),
        {
            split: (lambda name: lambda: count_tagged(SAMPLES / "ChineseLiterature" / "ner" / name, ("B_",)))(name)
            for split, name in (("validation", "validation.txt"), ("test", "test.txt"))
        },
    ),
    "cec": (_copy("CEC", "*/*.xml", keep_parents=1), {"train": lambda: count_cec(SAMPLES / "CEC")}),
}


@pytest.fixture(scope="module")
def sample_views(tmp_path_factory):
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not beside this checkout")
    built = {}
    for name, (copy, _) in SAMPLE_SPLITS.items():
        folder = tmp_path_factory.mktemp(f"samples-{name}") / name
        folder.mkdir()
        copy(folder)
        built[name] = build_views(BUILDERS[name], folder, tmp_path_factory.mktemp(f"cache-{name}"))
    return built


@pytest.mark.parametrize("name", list(SAMPLE_SPLITS))
def test_sample_records_all_convert_and_totals_match_the_raw_files(name, sample_views):
    raw_builder, raw = sample_views[name]["raw"]
    unified_builder, unified = sample_views[name]["unified"]
    for split, report in raw_builder.report.items():
        assert report["read"] == report["written"] + len(report["rejected"]) == len(raw[split])
        assert report["rejected"] == [], report["rejected"][:3]
    counts = SAMPLE_SPLITS[name][1]
    assert set(unified) == set(counts)
    for split, count in counts.items():
        assert unified_builder.report[split]["unified_rejected"] == []
        assert unified_totals(unified[split]) == count(), split


@pytest.mark.parametrize("name", list(SAMPLE_SPLITS))
def test_sample_spans_are_valid_and_nulls_flagged(name, sample_views):
    _, unified = sample_views[name]["unified"]
    ids = [i for ds in unified.values() for i in ds["id"]]
    assert len(ids) == len(set(ids))
    for ds in unified.values():
        for record in ds:
            for span in spans_of(record):
                if span["start"] is None:
                    assert span["end"] is None and UNGROUNDED in record["flags"], record["id"]
                else:
                    assert record["text"][span["start"] : span["end"]] == span["text"], (record["id"], span)


def test_ccks_validation_sample_is_raw_only_with_every_member(sample_views):
    raw_builder, raw = sample_views["ccks2020_military_ner"]["raw"]
    members = json.loads((SAMPLES / "CCKS2020MilitaryNER" / "ccks_8_data_v2" / "validate_data.json").read_text(encoding="utf-8"))
    assert raw["validation"]["document"] == list(members) and raw["validation"]["originalText"] == list(members.values())
    assert all(e is None for e in raw["validation"]["entities"])
    assert "validation" not in sample_views["ccks2020_military_ner"]["unified"][1]


def test_ccks_sample_offsets_are_one_based_inclusive(sample_views):
    """SOURCE.md's example: [8, 17] of train_V2_1.json is “加尔各答”级驱逐舰, quote mark included."""
    _, unified = sample_views["ccks2020_military_ner"]["unified"]
    first = unified["train"][0]
    assert first["entities"][0] == {"type": "试验要素", "text": "“加尔各答”级驱逐舰", "start": 7, "end": 17}
    assert LOST_PUNCTUATION in first["flags"]


# ---------------------------------------------------------------- the build, from the bundled fixtures
def test_fixture_build_reports_the_new_corpora(tmp_path):
    out = tmp_path / "chinchilla"
    report = build_collection(None, str(out), corpora=list(BUILDERS), log=lambda _: None)
    assert set(report) == set(BUILDERS)
    for name, splits in report.items():
        for split, counts in splits.items():
            assert counts["read"] == counts["written"] > 0 and counts["rejected"] == [], (name, split)
    written = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert written == report
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "train_V2_*.json (3 files)" in card  # one provenance digest per split of one file per document
    assert (out / "all_unified").is_dir()


def test_ccks_reads_the_official_zip(tmp_path):
    folder = tmp_path / "ccks2020_military_ner"
    folder.mkdir()
    source = bundled_fixtures() / "ccks2020_military_ner"
    with zipfile.ZipFile(folder / "ccks_8_data_v2.zip", "w") as archive:
        for path in sorted(source.rglob("*.json")):
            archive.write(path, path.relative_to(source).as_posix())
    views = build_views(CCKS2020MilitaryNER, folder, tmp_path / "cache")
    expected = build_views(CCKS2020MilitaryNER, source, tmp_path / "cache-fixture")
    assert views["unified"][1]["train"].to_list() == expected["unified"][1]["train"].to_list()
    assert views["raw"][1]["validation"].to_list() == expected["raw"][1]["validation"].to_list()


@pytest.mark.parametrize(
    "cls, inside",
    [(CEC, "CEC-Corpus-3779039d/CEC"), (ChineseLiterature, "Chinese-Literature-NER-RE-Dataset-021b3c1c"), (ChineseLiteratureNER, "Chinese-Literature-NER-RE-Dataset-021b3c1c")],
)
def test_repository_archives_are_read_like_their_folders(cls, inside, tmp_path):
    """What `chinchilla download` fetches for these corpora: GitHub's archive of the repository, the
    files one or two folders down (the archive's own name is that of the URL in Corpus.urls)."""
    (archive_name,) = cls.corpus.urls
    assert cls.corpus.urls[archive_name].endswith(".zip") and "/archive/" in cls.corpus.urls[archive_name]
    source = bundled_fixtures() / cls.corpus.name
    folder = tmp_path / cls.corpus.name
    folder.mkdir()
    with zipfile.ZipFile(folder / archive_name, "w") as archive:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            archive.write(path, f"{inside}/{path.relative_to(source).as_posix()}")
        archive.writestr(f"{inside}/raw corpus/未标注.txt", "未标注的新闻正文。")  # (CEC's unannotated texts)
    views = build_views(cls, folder, tmp_path / "cache")
    expected = build_views(cls, source, tmp_path / "cache-fixture")
    for split, ds in expected["unified"][1].items():
        assert views["unified"][1][split].to_list() == ds.to_list()


def test_ccks_train_documents_are_gbk_and_keyed_in_number_order(tmp_path):
    folder = tmp_path / "ccks"
    folder.mkdir()
    for n, text in ((10, "导弹?试验"), (2, "雷达系统")):
        document = {"originalText": text, "entities": [{"label_type": "试验要素", "overlap": 0, "start_pos": 1, "end_pos": 2}]}
        (folder / f"train_V2_{n}.json").write_bytes(json.dumps(document, ensure_ascii=False, indent="\t").encode("gbk"))
    (folder / "train_V2_3.json").write_bytes(b'{"originalText": "x", "entities": [{"label_type": "other"')
    builder, unified = prepare(CCKS2020MilitaryNER, folder, tmp_path / "cache", "unified")
    records = unified["train"].to_list()
    assert [r["text"] for r in records] == ["雷达系统", "导弹?试验"]  # 2 before 10
    assert [r["entities"][0]["text"] for r in records] == ["雷达", "导弹"]
    assert records[1]["flags"] == [LOST_PUNCTUATION] and records[0]["flags"] == []
    (rejected,) = builder.report["train"]["rejected"]
    assert rejected["file"] == "train_V2_3.json" and rejected["line"] == 1 and "invalid JSON" in rejected["reason"]


def test_ccks_offsets_outside_the_text_are_null_and_flagged():
    raw = {
        "document": "train_V2_1.json",
        "originalText": "舰载雷达",
        "entities": [
            {"label_type": "试验要素", "overlap": 0, "start_pos": 3, "end_pos": 9},
            {"label_type": "试验要素", "overlap": 0, "start_pos": 0, "end_pos": 2},
            {"label_type": "性能指标", "overlap": 0, "start_pos": 1, "end_pos": 4},
        ],
    }
    record = CCKS2020MilitaryNER.to_unified(None, raw)
    assert [(e["start"], e["end"], e["text"]) for e in record["entities"]] == [(None, None, ""), (None, None, ""), (0, 4, "舰载雷达")]
    assert record["flags"] == [UNGROUNDED]


def test_ccks_a_broken_validation_member_costs_only_itself(tmp_path):
    folder = tmp_path / "ccks"
    folder.mkdir()
    (folder / "train_V2_1.json").write_text('{"originalText": "雷达", "entities": []}', encoding="utf-8")
    (folder / "validate_data.json").write_text(
        '{\r\n    "validate_V2_1.json": "第一篇",\r\n    "validate_V2_2.json": "断了,\r\n    "validate_V2_3.json": "第三篇"\r\n}', encoding="utf-8"
    )
    builder, raw = prepare(CCKS2020MilitaryNER, folder, tmp_path / "cache")
    assert raw["validation"]["originalText"] == ["第一篇", "第三篇"]
    (rejected,) = builder.report["validation"]["rejected"]
    assert rejected["file"] == "validate_data.json" and rejected["line"] == 3


# ---------------------------------------------------------------- tagged: BIEOS and the underscore joiner
def test_bieos_and_underscore_tags_decode_alike():
    assert decode_tags(["B-HC", "I-HC", "E-HC", "O", "S-HP"]) == [("HC", 0, 3), ("HP", 4, 5)]
    assert decode_tags(["B_Person", "I_Person", "O", "B_Time"]) == [("Person", 0, 2), ("Time", 3, 4)]
    assert split_tag("B-person_name") == ("B", "person_name") and split_tag("I_Thing") == ("I", "Thing")
    assert split_tag("O") is None


def test_ecommerce_space_tokens_are_kept_in_text_and_mentions():
    record = tagged_to_unified({"tokens": list("Mo Lan杯"), "ner_tags": ["B-HP", "I-HP", "I-HP", "I-HP", "I-HP", "E-HP", "S-HC"]})
    assert record["text"] == "Mo Lan杯"
    assert [(e["type"], e["text"]) for e in record["entities"]] == [("HP", "Mo Lan"), ("HC", "杯")]
    assert record["flags"] == []
    assert tagged_to_unified({"tokens": list("杯子"), "ner_tags": ["O", "E-HC"]})["flags"] == [ILL_FORMED_TAGS]


# ---------------------------------------------------------------- Chinese Literature (brat)
BRAT_TEXT = "我的外婆住在小镇。\n老槐\n树下，她讲故事。我们在湖畔、柳岸。她和她"


def brat(lines: list, text: str = BRAT_TEXT) -> dict:
    parsed = parse_ann("\n".join(lines) + "\n")
    assert isinstance(parsed, dict), parsed
    return literature_unified({"document": "1", "text": text, **parsed})


def test_brat_line_break_fragments_and_continuation_lines_span_the_break():
    record = brat(["T1\tThing-Nominal 10 12;13 14\t老槐 树", "T2\tThing-Nominal 10 15\t老槐", "树下"])
    assert [(e["text"], e["start"], e["end"]) for e in record["entities"]] == [("老槐\n树", 10, 14), ("老槐\n树下", 10, 15)]
    assert record["flags"] == [SPANS_LINE_BREAK]


def test_brat_discontinuous_entity_is_its_first_fragment_and_flagged():
    record = brat(["T1\tPerson-Nominal 0 2;3 4\t我的 婆"])
    assert record["entities"] == [{"type": "Person-Nominal", "text": "我的", "start": 0, "end": 2}]
    assert record["flags"] == [DISCONTINUOUS]


def test_brat_offsets_not_matching_their_text():
    punctuation = brat(["T1\tLocation-Nominal 24 29\t湖畔;柳岸"])
    assert punctuation["entities"][0] == {"type": "Location-Nominal", "text": "湖畔、柳岸", "start": 24, "end": 29}
    assert punctuation["flags"] == [MENTION_TEXT_DIFFERS]
    shifted = brat(["T1\tLocation-Nominal 5 7\t小镇"])  # shifted by one, the mention occurs once
    assert (shifted["entities"][0]["start"], shifted["flags"]) == (6, [OFFSET_CORRECTED])
    ambiguous = brat(["T1\tPerson-Pronoun 40 41\t她"])  # 她 occurs three times: no occurrence preferred
    assert (ambiguous["entities"][0]["start"], ambiguous["flags"]) == (None, [UNGROUNDED, AMBIGUOUS])
    absent = brat(["T1\tPerson-Name 0 2\t张三"])
    assert absent["entities"][0]["start"] is None and absent["flags"] == [UNGROUNDED]


def test_brat_relations_and_coreference_sets():
    record = brat(
        [
            "T1\tPerson-Nominal 0 4\t我的外婆",
            "T2\tLocation-Nominal 6 8\t小镇",
            "T3\tPerson-Pronoun 16 17\t她",
            "R1\tLocated Arg1:T1 Arg2:T2\t",
            "*\tCoreference T1 T3 T1",
            "R2\tSocial Arg1:T3 Arg2:T7\t",
        ]
    )
    pairs = [(r["type"], r["head"]["text"], r["tail"]["text"]) for r in record["relations"]]
    assert pairs == [("Located", "我的外婆", "小镇"), ("Social", "她", ""), ("Coreference", "我的外婆", "她"), ("Coreference", "她", "我的外婆")]
    assert record["relations"][1]["tail"]["start"] is None
    assert record["flags"] == [UNGROUNDED, UNKNOWN_ENTITY_ID]


def test_brat_a_malformed_line_rejects_its_document_with_the_line(tmp_path):
    folder = tmp_path / "lit" / "Training"
    folder.mkdir(parents=True)
    (folder / "1.txt").write_text("我的外婆", encoding="utf-8")
    (folder / "1.ann").write_text("T1\tPerson-Nominal 0 4\t我的外婆\nT2\tPerson 0 x\t我\n", encoding="utf-8")
    (folder / "2.ann").write_text("T1\tPerson-Nominal 0 1\t我\n", encoding="utf-8")
    (folder / "3.txt").write_text("她", encoding="utf-8")
    (folder / "3.ann").write_text("T1\tPerson-Pronoun 0 1\t她\n", encoding="utf-8")
    builder, raw = prepare(ChineseLiterature, tmp_path / "lit", tmp_path / "cache")
    assert raw["train"]["document"] == ["3"]
    rejected = builder.report["train"]["rejected"]
    assert [(r["file"], r["line"]) for r in rejected] == [("1.ann", 2), ("2.ann", 1)]
    assert "not a brat" in rejected[0]["reason"] and "no 2.txt" in rejected[1]["reason"]


# ---------------------------------------------------------------- CEC
CEC_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Body>
\t<Title>仓库起火 无人受伤</Title>
\t<ReportTime type="absTime">2010-3-5</ReportTime>
\t<Content>
\t\t<Paragraph>
\t\t\t<Sentence>
\t\t\t\t<Event eid="e1"><Location lid="l1">城东</Location>仓库
\t\t\t\t\t<Denoter type="emergency" did="d1">起火</Denoter>
\t\t\t\t</Event>，
\t\t\t\t<Event eid="e2"><participant sid="s2">消防员</participant>
\t\t\t\t\t<Denoter did="d2">赶到</Denoter>
\t\t\t\t\t<Object oid="o2"><Event eid="e3"><Denoter type="operation" did="d3">灭火</Denoter></Event></Object>
\t\t\t\t</Event>。
\t\t\t</Sentence>
\t\t</Paragraph>
\t</Content>
\t<eRelation relType="Causal" cause_eid="e1" effect_eid="e2,e3"/>
\t<eRelation relType="Thoughtcontent6" thoughtevent_eid="e1" thoughtcontent_eids="e2-e9"/>
\t<eRelation relType="Follow" bevent_eid="e7" aevent_eid="e1"/>
</Body>
"""


def test_cec_text_drops_layout_whitespace_and_keeps_spaces():
    raw = document_record(CEC_XML, "仓库起火.xml", "火灾")
    assert raw["text"] == "仓库起火 无人受伤\n城东仓库起火，消防员赶到灭火。"
    assert raw["titles"] == ["仓库起火 无人受伤"] and raw["report_time"][0]["text"] == "2010-3-5"
    assert [e["parent"] for e in raw["events"]] == ["", "", "e2"]
    assert raw["events"][1]["elements"][0]["tag"] == "participant"


def test_cec_events_and_relations_between_triggers():
    record = cec_unified(document_record(CEC_XML, "仓库起火.xml", "火灾"))
    events = [(e["type"], e["trigger"]["text"], [(a["role"], a["text"]) for a in e["arguments"]]) for e in record["events"]]
    assert events == [
        ("emergency", "起火", [("地点", "城东")]),
        ("", "赶到", [("参与者", "消防员"), ("对象", "灭火")]),
        ("operation", "灭火", []),
    ]
    pairs = [(r["type"], r["head"]["text"], r["tail"]["text"]) for r in record["relations"]]
    assert pairs == [
        ("Causal", "起火", "赶到"),
        ("Causal", "起火", "灭火"),
        ("Thoughtcontent", "起火", "赶到"),  # e2-e9: the events numbered 2 to 9 that exist
        ("Thoughtcontent", "起火", "灭火"),
        ("Follow", "", "起火"),
    ]
    assert record["relations"][0]["head"] == {"type": "emergency", "text": "起火", "start": 14, "end": 16}
    assert record["flags"] == ["tag_case_folded", "untyped_event", "relation_type_repaired", UNGROUNDED, "unknown_event_id"]


def test_cec_annotations_outside_an_event_are_kept():
    xml = CEC_XML.replace("<Sentence>", '<Sentence><Time tid="t9">当晚</Time><Denoter type="action" did="d9">报道</Denoter>', 1)
    raw = document_record(xml, "a.xml", "火灾")
    assert [(o["tag"], o["text"]) for o in raw["orphans"]] == [("Time", "当晚"), ("Denoter", "报道")]
    record = cec_unified(raw)
    assert record["entities"] == [{"type": "时间", "text": "当晚", "start": 10, "end": 12}]
    assert record["events"][-1] == {"type": "action", "trigger": {"text": "报道", "start": 12, "end": 14}, "arguments": []}
    assert "annotation_outside_event" in record["flags"]


def test_cec_event_id_lists_and_ranges():
    known = {"e1": 0, "e2": 0, "e4": 0}
    assert event_ids("e1-e4", known) == ["e1", "e2", "e4"]
    assert event_ids("e1, e9", known) == ["e1", "e9"]


def test_cec_malformed_xml_is_rejected_with_its_line(tmp_path):
    folder = tmp_path / "cec" / "地震"
    folder.mkdir(parents=True)
    (folder / "a.xml").write_text(CEC_XML, encoding="utf-8")
    (folder / "b.xml").write_text(CEC_XML.replace("</Denoter>\n\t\t\t\t</Event>，", "</Denoter>，", 1), encoding="utf-8")
    (folder / "c.xml").write_bytes(CEC_XML.encode("gb18030"))  # declared UTF-8, written GBK: decoded by its bytes
    builder, raw = prepare(CEC, tmp_path / "cec", tmp_path / "cache")
    assert raw["train"]["document"] == ["a.xml", "c.xml"] and raw["train"]["category"] == ["地震", "地震"]
    assert raw["train"]["text"][0] == raw["train"]["text"][1]
    (rejected,) = builder.report["train"]["rejected"]
    assert rejected["file"] == "b.xml" and re.match(r"line \d+: not well-formed XML", rejected["reason"])
