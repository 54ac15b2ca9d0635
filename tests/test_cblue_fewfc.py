"""FewFC, CMeEE, CMeIE and CHIP-CDEE: the real samples (skipped when absent) counted independently
of the builders, and the edge cases of these corpora: joined splits, JSON-array files, inclusive and
wrong offsets, normalised values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builders.chip_cdee import ANATOMY, CHARACTER, CHIPCDEE, EVENT_TYPE, TENDENCY, VALUE_STRIPPED
from builders.cmeee import CMeEE
from builders.cmeie import CMeIE
from builders.fewfc import ROLE_NAMES, FewFC
from chinchilla_datasets.collection import build_collection
from chinchilla_datasets.schema import TASK_COLUMN, spans_of
from chinchilla_datasets.sources import Reject, read_json_array_lines
from chinchilla_datasets.spans import AMBIGUOUS, OFFSET_CORRECTED, UNGROUNDED, span_at

from conftest import SAMPLES, build_views, needs_samples, unified_totals

NEW = {"fewfc": FewFC, "cmeee": CMeEE, "cmeie": CMeIE, "chip_cdee": CHIPCDEE}


# ---------------------------------------------------------------- independent counts of the raw files
def json_lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def count_fewfc(files: list) -> dict:
    records = [r for f in files for r in json_lines(f)]
    events = [e for r in records for e in r["events"]]
    return {
        "records": len(records),
        "events": len(events),
        "arguments": sum(m["role"] != "trigger" for e in events for m in e["mentions"]),
        "entities": 0,
        "relations": 0,
    }


def count_cmeee(path: Path) -> dict:
    records = json.loads(path.read_text(encoding="utf-8"))
    return {"records": len(records), "entities": sum(len(r["entities"]) for r in records), "relations": 0, "events": 0, "arguments": 0}


def count_cmeie(path: Path) -> dict:
    records = json_lines(path)
    mentions = [
        {(s["subject_type"], s["subject"]) for s in r["spo_list"]} | {(s["object_type"]["@value"], s["object"]["@value"]) for s in r["spo_list"]}
        for r in records
    ]
    return {
        "records": len(records),
        "relations": sum(len(r["spo_list"]) for r in records),
        "entities": sum(map(len, mentions)),  # heads and tails, each distinct (type, mention) once per record
        "events": 0,
        "arguments": 0,
    }


def count_chip_cdee(path: Path) -> dict:
    records = json.loads(path.read_text(encoding="utf-8"))
    events = [e for r in records for e in r["event"]]
    return {
        "records": len(records),
        "events": len(events),
        "arguments": sum(bool(e["tendency"].strip()) + len(e["character"]) + len(e["anatomy_list"]) for e in events),
        "entities": 0,
        "relations": 0,
    }


SAMPLE_SPLITS = {
    # corpus: {split: (sample folder, [files], independent counter)}
    "fewfc": {
        "train": ("FewFC", ["train_base.json", "train_trans.json"], count_fewfc),
        "test": ("FewFC", ["test_base.json", "test_trans.json"], count_fewfc),
    },
    "cmeee": {"validation": ("CMeEE", ["CMeEE_dev.json"], lambda fs: count_cmeee(fs[0]))},
    "cmeie": {"validation": ("CMeIE", ["CMeIE_dev.json"], lambda fs: count_cmeie(fs[0]))},
    "chip_cdee": {
        "train": ("CHIP-CDEE", ["CHIP-CDEE_train.json"], lambda fs: count_chip_cdee(fs[0])),
        "validation": ("CHIP-CDEE", ["CHIP-CDEE_dev.json"], lambda fs: count_chip_cdee(fs[0])),
    },
}
UNLABELLED_SAMPLES = {"cmeee": ("CMeEE", "CMeEE_test.json"), "cmeie": ("CMeIE", "CMeIE_test.json"), "chip_cdee": ("CHIP-CDEE", "CHIP-CDEE_test.json")}
EXTRA_SAMPLE_FILES = {"cmeie": ["53_schemas.json"]}


@pytest.fixture(scope="module")
def sample_views(tmp_path_factory):
    """Each corpus built from its sample files, copied under their official names (raw_from_samples.sh
    is not relied on for the layout)."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not beside this checkout")
    built = {}
    for name, splits in SAMPLE_SPLITS.items():
        folder = tmp_path_factory.mktemp(f"samples-{name}") / name
        folder.mkdir()
        names = [f for _, files, _ in splits.values() for f in files] + EXTRA_SAMPLE_FILES.get(name, [])
        if name in UNLABELLED_SAMPLES:
            names.append(UNLABELLED_SAMPLES[name][1])
        source = next(iter(splits.values()))[0]
        for file_name in names:
            shutil.copy(SAMPLES / source / file_name, folder / file_name)
        built[name] = (folder, build_views(NEW[name], folder, tmp_path_factory.mktemp(f"cache-{name}")))
    return built


@needs_samples
@pytest.mark.parametrize("name", list(SAMPLE_SPLITS))
def test_sample_records_all_convert_and_totals_match_the_raw_files(name, sample_views):
    folder, views = sample_views[name]
    raw_builder, raw = views["raw"]
    unified_builder, unified = views["unified"]
    for split, (_, files, count) in SAMPLE_SPLITS[name].items():
        report = raw_builder.report[split]
        assert report["read"] == report["written"] + len(report["rejected"])
        assert report["rejected"] == [], report["rejected"][:3]  # the samples hold no malformed record
        assert unified_builder.report[split]["unified_rejected"] == []
        expected = count([folder / f for f in files])
        assert len(raw[split]) == expected["records"]
        assert unified_totals(unified[split]) == expected, split


@needs_samples
@pytest.mark.parametrize("name", list(UNLABELLED_SAMPLES))
def test_unlabelled_sample_files_are_raw_only(name, sample_views):
    folder, views = sample_views[name]
    _, raw = views["raw"]
    _, unified = views["unified"]
    file_name = UNLABELLED_SAMPLES[name][1]
    text = (folder / file_name).read_text(encoding="utf-8")
    expected = len(json.loads(text)) if text.lstrip().startswith("[") else len(json_lines(folder / file_name))
    assert len(raw["test"]) == expected and "test" not in unified


@needs_samples
@pytest.mark.parametrize("name", list(SAMPLE_SPLITS))
def test_sample_spans_are_valid_and_nulls_flagged(name, sample_views):
    _, views = sample_views[name]
    _, unified = views["unified"]
    for ds in unified.values():
        for record in ds:
            for span in spans_of(record):
                if span["start"] is None:
                    assert span["end"] is None and UNGROUNDED in record["flags"]
                else:
                    assert record["text"][span["start"] : span["end"]] == span["text"], (record["id"], span)


@needs_samples
def test_sample_labels_are_in_the_instruction_schemas(sample_views):
    """Every type in the samples is listed by the instructions (with its roles for FewFC)."""
    for name in SAMPLE_SPLITS:
        _, views = sample_views[name]
        builder, unified = views["unified"]
        schema = builder.label_schema()
        listed = {label for label, _ in schema["types"]}
        for ds in unified.values():
            for record in ds:
                for item in record[TASK_COLUMN[record["task"]]]:  # what the instructions ask for
                    assert item["type"] in listed, (name, item["type"])
                for event in record["events"]:
                    assert {a["role"] for a in event["arguments"]} <= set(schema["roles"][event["type"]]), (name, event)


# ---------------------------------------------------------------- FewFC: a split joined from two files
def test_fewfc_splits_join_base_and_trans_with_distinct_ids(tmp_path, fixtures_dir):
    folder = tmp_path / "fewfc"
    shutil.copytree(fixtures_dir / "fewfc", folder)
    base_lines = (folder / "train_base.json").read_bytes().count(b"\n")
    with open(folder / "train_trans.json", "a", encoding="utf-8") as f:
        f.write('{"id": "x", "content": "缺少事件列表"}\n')  # no events key: rejected
    views = build_views(FewFC, folder, tmp_path / "cache")
    builder, raw = views["raw"]
    train = raw["train"]
    assert train["subset"] == ["base"] * base_lines + ["trans"] * (len(train) - base_lines)
    trans_lines = len(json_lines(fixtures_dir / "fewfc" / "train_trans.json"))
    assert builder.report["train"]["rejected"] == [
        {"file": "train_trans.json", "line": trans_lines + 1, "reason": "missing key 'events'"}
    ]
    _, unified = views["unified"]
    ids = unified["train"]["id"]
    assert len(set(ids)) == len(ids) == len(train)
    assert ids[base_lines] == f"fewfc-train-{base_lines + 1}"  # train_trans.json line 1 follows train_base.json


def test_fewfc_joined_split_builds_from_one_part(tmp_path, fixtures_dir):
    folder = tmp_path / "fewfc"
    folder.mkdir()
    shutil.copy(fixtures_dir / "fewfc" / "train_trans.json", folder)
    views = build_views(FewFC, folder, tmp_path / "cache")
    _, raw = views["raw"]
    assert set(raw) == {"train"} and set(raw["train"]["subset"]) == {"trans"}


def test_fewfc_joined_split_with_line_shards_equals_one_process(tmp_path, fixtures_dir, monkeypatch):
    import chinchilla_datasets.base as base

    monkeypatch.setattr(base, "SHARD_MIN_BYTES", 0)
    folder = tmp_path / "fewfc"
    shutil.copytree(fixtures_dir / "fewfc", folder)
    with open(folder / "test_trans.json", "a", encoding="utf-8") as f:
        f.write("not json\n")
    built = {}
    for num_proc in (1, 2):
        builder = FewFC(config_name="fewfc_unified", data_dir=str(folder), cache_dir=str(tmp_path / f"c{num_proc}"))
        builder.download_and_prepare(num_proc=num_proc)
        built[num_proc] = (builder.report, builder.as_dataset())
    assert built[2][0] == built[1][0]
    assert [r["file"] for r in built[1][0]["test"]["rejected"]] == ["test_trans.json"]
    for split in built[1][1]:
        assert built[2][1][split].to_list() == built[1][1][split].to_list()


def test_fewfc_events_sharing_a_trigger_stay_separate_and_roles_follow_the_definition():
    text = "甲公司董事张三与李四减持股份。"
    trigger = {"word": "减持", "span": [10, 12], "role": "trigger"}
    raw = {
        "id": "a",
        "content": text,
        "subset": "base",
        "events": [
            {"type": "减持", "mentions": [{"word": "张三", "span": [5, 7], "role": "sub"}, trigger]},
            {"type": "减持", "mentions": [trigger, {"word": "李四", "span": [7, 9], "role": "sub"}]},  # 1 off: re-grounded
        ],
    }
    record = FewFC.to_unified(None, raw)
    assert [e["trigger"] for e in record["events"]] == [{"text": "减持", "start": 10, "end": 12}] * 2
    assert record["events"][0]["arguments"] == [{"role": "减持方", "text": "张三", "start": 5, "end": 7}]  # sub of 减持
    assert record["events"][1]["arguments"] == [{"role": "减持方", "text": "李四", "start": 8, "end": 10}]
    assert record["flags"] == [OFFSET_CORRECTED]
    raw["events"][0]["mentions"].append(dict(trigger))
    with pytest.raises(ValueError, match="2 trigger mentions"):
        FewFC.to_unified(None, raw)
    assert set(ROLE_NAMES) == set(FewFC.corpus.labels) and len(ROLE_NAMES) == 10


# ---------------------------------------------------------------- offsets
def test_span_at_keeps_good_offsets_and_regrounds_only_unique_mentions():
    flags = []
    assert span_at("肺内病变", "肺", 0, 1, flags) == (0, 1) and flags == []
    assert span_at("右肺结节", "结节", 0, 2, flags) == (2, 4) and flags == [OFFSET_CORRECTED]
    flags = []
    assert span_at("肺炎与肺癌", "肺", 1, 2, flags) == (None, None) and flags == [UNGROUNDED, AMBIGUOUS]
    flags = []
    assert span_at("头痛", "发热", 0, 2, flags) == (None, None) and flags == [UNGROUNDED]
    assert span_at("头痛", "头", 2**40, None, []) == (0, 1)


def test_cmeee_end_is_inclusive_and_nested_entities_are_kept():
    text = "肺内病变吸收"
    raw = {
        "text": text,
        "entities": [
            {"start_idx": 0, "end_idx": 0, "type": "bod", "entity": "肺"},
            {"start_idx": 0, "end_idx": 3, "type": "sym", "entity": "肺内病变"},
        ],
    }
    record = CMeEE.to_unified(None, raw)
    assert [(e["start"], e["end"]) for e in record["entities"]] == [(0, 1), (0, 4)] and record["flags"] == []


# ---------------------------------------------------------------- CHIP-CDEE
def test_chip_cdee_event_mapping_and_normalised_values():
    text = "食欲正常，大便正常，左下肢肿胀。"
    raw = {
        "id": 1,
        "text": text,
        "event": [
            {"core_name": "大便", "tendency": "", "character": ["正常"], "anatomy_list": []},
            {"core_name": "肿胀", "tendency": "不确定 ", "character": [], "anatomy_list": ["左下肢"]},
            {"core_name": "体重下降", "tendency": "否定", "character": ["明显"], "anatomy_list": []},
        ],
    }
    record = CHIPCDEE.to_unified(None, raw)
    first, second, third = record["events"]
    assert {e["type"] for e in record["events"]} == {EVENT_TYPE}
    assert first["trigger"] == {"text": "大便", "start": 5, "end": 7}
    assert first["arguments"] == [{"role": CHARACTER, "text": "正常", "start": 7, "end": 9}]  # nearest to 大便, not 食欲's
    assert second["arguments"] == [
        {"role": TENDENCY, "text": "不确定", "start": None, "end": None},
        {"role": ANATOMY, "text": "左下肢", "start": 10, "end": 13},
    ]
    assert third["trigger"] == {"text": "体重下降", "start": None, "end": None}  # normalised: kept, ungrounded
    assert set(record["flags"]) == {AMBIGUOUS, UNGROUNDED, VALUE_STRIPPED}


# ---------------------------------------------------------------- the JSON-array reader
def write(path: Path, text: str) -> str:
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def test_json_array_records_are_keyed_by_their_opening_line(tmp_path):
    records = [{"text": "甲", "entities": [{"start_idx": 0}]}, {"text": "乙", "entities": []}, {"text": "丙", "entities": []}]
    pretty = json.dumps(records, ensure_ascii=False, indent=2)  # the CBLUE layout, no final newline
    got = list(read_json_array_lines(write(tmp_path / "a.json", pretty)))
    lines = pretty.split("\n")
    assert [r for _, r in got] == records
    assert [k for k, _ in got] == [i + 1 for i, line in enumerate(lines) if line == "  {"]


def test_json_array_one_broken_record_costs_only_itself(tmp_path):
    records = [{"text": t, "entities": [{"start_idx": 0, "end_idx": 0}]} for t in "甲乙丙"]
    lines = json.dumps(records, ensure_ascii=False, indent=2).split("\n")
    second = [i for i, line in enumerate(lines) if line == "  {"][1]
    broken = lines[:]
    broken[second + 1] = broken[second + 1].replace('":', '"')  # "text" "乙",
    got = list(read_json_array_lines(write(tmp_path / "b.json", "\n".join(broken))))
    assert [r for _, r in got if not isinstance(r, Reject)] == [records[0], records[2]]
    rejected = [(k, r.reason) for k, r in got if isinstance(r, Reject)]
    assert len(rejected) == 1 and rejected[0][0] == second + 1 and "invalid JSON" in rejected[0][1]
    # an undecodable line rejects its record whole, with the decoder's reason
    path = tmp_path / "c.json"
    data = "\n".join(lines).encode("utf-8").replace("乙".encode("utf-8"), b"\xff\xfe")
    path.write_bytes(data)
    got = list(read_json_array_lines(str(path)))
    assert [r for _, r in got if not isinstance(r, Reject)] == [records[0], records[2]]
    assert [r.reason for _, r in got if isinstance(r, Reject)][0].startswith(f"line {second + 2}: not valid")


def test_json_array_reports_text_outside_records_and_empty_arrays(tmp_path):
    got = list(read_json_array_lines(write(tmp_path / "d.json", '[{"text": "a"},\n{"text": "b"}]\ntrailing words\n')))
    assert got[:2] == [(1, {"text": "a"}), (2, {"text": "b"})]
    assert got[2][0] == 3 and "text outside the records" in got[2][1].reason
    got = list(read_json_array_lines(write(tmp_path / "e.json", '{"text": "a"}\n{"text": "b"}\n')))  # JSON Lines read too
    assert got == [(1, {"text": "a"}), (2, {"text": "b"})]
    (only,) = read_json_array_lines(write(tmp_path / "f.json", "[]"))
    assert only[0] == 1 and "no JSON object" in only[1].reason
    # two records on one line: one line, one rejection (a key could not tell them apart)
    (only,) = read_json_array_lines(write(tmp_path / "g.json", '[{"text": "a"}, {"text": "b"}]'))
    assert only[0] == 1 and "unexpected text after the record" in only[1].reason


# ---------------------------------------------------------------- registration-only splits
def test_build_says_when_a_registration_only_split_is_absent(tmp_path, fixtures_dir):
    folder = tmp_path / "raw" / "cmeee"
    shutil.copytree(fixtures_dir / "cmeee", folder)
    (folder / "CMeEE_train.json").unlink()
    lines = []
    report = build_collection(str(tmp_path / "raw"), str(tmp_path / "out" / "chinchilla"), corpora=["cmeee"], log=lines.append)
    assert set(report["cmeee"]) == {"validation", "test"}
    (note,) = [line for line in lines if line.startswith("note cmeee")]
    assert "train (CMeEE_train.json)" in note and CMeEE.corpus.homepage in note
