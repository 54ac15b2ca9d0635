"""The English sources of the translation stage (WNUT-17, CoNLL04, CASIE): their quirks on small
inputs written here, and their real samples (skipped when ../shared/samples is absent): every record
converts or is rejected with a reason, spans slice to their mention, and the counts of entities,
relations and events equal counts taken directly from the raw files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from builders.casie import CASIE, NORMALISED_SPACE, SPAN_INSIDE_WORD, document_split, ground_mention
from builders.conll04 import CoNLL04
from builders.wnut17 import WNUT17
from chinchilla_datasets.parquet_io import config_files
from chinchilla_datasets.card import read_build
from chinchilla_datasets.publish import plan_release
from chinchilla_datasets.schema import spans_of
from chinchilla_datasets.sources import Reject, read_json_array
from chinchilla_datasets.spans import AMBIGUOUS, OFFSET_CORRECTED, UNGROUNDED

from conftest import build_views

ENGLISH = {"wnut17": WNUT17, "conll04": CoNLL04, "casie": CASIE}


def build(cls, data_dir: Path, tmp_path: Path) -> dict:
    return build_views(cls, data_dir, tmp_path / "cache")


def all_rejections(builder) -> list:
    return [r for counts in builder.report.values() for r in counts["rejected"] + counts.get("unified_rejected", [])]


# ---------------------------------------------------------------- WNUT-17


def test_wnut_lone_tab_lines_separate_sentences_and_text_is_space_joined(tmp_path):
    data = tmp_path / "wnut17"
    data.mkdir()
    (data / "wnut17train.conll").write_text(
        "Saw\tO\nDana\tB-person\nRoe\tI-person\n\t\nin\tO\nNew\tB-location\nYork\tI-location\n\t\n", encoding="utf-8"
    )
    views = build(WNUT17, data, tmp_path)
    records = list(views["unified"][1]["train"])
    assert [r["text"] for r in records] == ["Saw Dana Roe", "in New York"]
    assert [(e["text"], e["start"], e["end"]) for e in records[0]["entities"]] == [("Dana Roe", 4, 12)]
    assert [(e["type"], e["text"]) for e in records[1]["entities"]] == [("location", "New York")]
    assert [r["tokens"] for r in views["raw"][1]["train"]] == [["Saw", "Dana", "Roe"], ["in", "New", "York"]]


def test_wnut_crowd_multilabel_and_malformed_lines_are_rejected_with_the_line(tmp_path):
    data = tmp_path / "wnut17"
    data.mkdir()
    (data / "emerging.test.annotated").write_text(
        "Acme\tB-corporation,B-person\n\nbroken line without tag\nhere\tO\n\nfine\tO\n\n", encoding="utf-8"
    )
    views = build(WNUT17, data, tmp_path)
    builder, dd = views["raw"]
    rejected = builder.report["test"]["rejected"]
    assert [(r["line"], "B-corporation,B-person" in r["reason"]) for r in rejected] == [(1, True), (3, False)]
    assert "line 3" in rejected[1]["reason"]
    assert dd["test"]["tokens"] == [["fine"]]


# ---------------------------------------------------------------- CoNLL04


def conll04_record(tokens, entities, relations):
    return {"tokens": tokens, "entities": entities, "relations": relations, "orig_id": 1}


def test_conll04_bad_indexes_reject_the_record_with_the_reason(tmp_path):
    data = tmp_path / "conll04"
    data.mkdir()
    good = conll04_record(["Ann", "Lee", "works", "for", "Brix", "."], [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 4, "end": 5}], [{"type": "Work_For", "head": 0, "tail": 1}])
    past_end = conll04_record(["Bo", "left"], [{"type": "Peop", "start": 1, "end": 3}], [])
    bad_tail = conll04_record(["Bo", "left"], [{"type": "Peop", "start": 0, "end": 1}], [{"type": "Kill", "head": 0, "tail": 4}])
    (data / "conll04_train.json").write_text(json.dumps([good, past_end, bad_tail]), encoding="utf-8")
    views = build(CoNLL04, data, tmp_path)
    builder, dd = views["raw"]
    assert [(r["line"], r["reason"]) for r in builder.report["train"]["rejected"]] == [
        (2, "entity 0 spans tokens [1, 3) of a 2-token sentence"),
        (3, "relation 0 tail 4 is not one of the record's 1 entities"),
    ]
    (record,) = views["unified"][1]["train"]
    assert record["text"] == "Ann Lee works for Brix ."
    (relation,) = record["relations"]
    assert (relation["head"]["text"], relation["tail"]["text"], relation["tail"]["start"]) == ("Ann Lee", "Brix", 18)


@pytest.mark.parametrize(
    "data,expected",
    [
        (b'{"tokens": []}', [(1, "expected a JSON array of records, found '{\"tokens\": []}'")]),
        (b"[]", [(1, "an empty JSON array: no record")]),
        (b'[{"a": 1}, 3]', [(1, {"a": 1}), (2, "record 2: expected a JSON object, got int")]),
        # records before a corruption are kept; the rest is one Reject saying so
        (b'[{"a": 1}, {"b": ', [(1, {"a": 1}), (2, "record 2 and after: invalid JSON: Expecting value: line 1 column 18 (char 17)")]),
        (b'[{"a": 1} {"b": 2}]', [(1, {"a": 1}), (2, "record 2 and after: expected ',' or ']' at character 10, found '{\"b\": 2}]'")]),
        (b'[{"a": 1}, {"b": "\xff"}]', [(1, {"a": 1}), (2, "record 2 and after: not valid utf-8: invalid start byte at byte 18")]),
        (b'[{"a": 1}]\n\nmore', [(1, {"a": 1}), (2, "text after the end of the JSON array at character 12: 'more'")]),
        (b'\xef\xbb\xbf [ {"a": 1} ]\n', [(1, {"a": 1})]),
    ],
)
def test_json_array_reader_keeps_what_precedes_a_fault(tmp_path, data, expected):
    path = tmp_path / "split.json"
    path.write_bytes(data)
    assert [(n, getattr(r, "reason", r)) for n, r in read_json_array(str(path))] == expected


# ---------------------------------------------------------------- CASIE


@pytest.mark.parametrize(
    "content,text,start,expected,flags",
    [
        ("the bank was hacked", "hacked", 13, (13, 19, "hacked"), []),
        ("the bank was hacked", "hacked", 14, (13, 19, "hacked"), [OFFSET_CORRECTED]),  # shifted by one
        ("the bank was hacked", "hacked", 11, (13, 19, "hacked"), [OFFSET_CORRECTED]),  # by two the other way
        ("the\u00a0App Store", "the App Store", 0, (0, 13, "the\u00a0App Store"), [NORMALISED_SPACE]),
        ("hacked here, hacked there", "hacked", 20, (13, 19, "hacked"), [OFFSET_CORRECTED, AMBIGUOUS]),  # nearest
        ("gain admin privileges", "gain admin privilege", 0, (0, 20, "gain admin privilege"), [SPAN_INSIDE_WORD]),
        ("nothing to see", "malware", 3, (None, None, "malware"), [UNGROUNDED]),
    ],
)
def test_casie_mentions_are_regrounded_and_flagged(content, text, start, expected, flags):
    got_flags = []
    span = ground_mention(content, text, start, start + len(text), got_flags)
    assert (span["start"], span["end"], span["text"]) == expected
    assert got_flags == flags
    if span["start"] is not None:
        assert content[span["start"] : span["end"]] == span["text"]


def test_casie_roles_and_chinese_names_cover_each_other():
    from builders.casie import ROLES, ROLES_ZH

    roles = {role for event_roles in ROLES.values() for role in event_roles}
    assert len(roles) == 26 and set(ROLES_ZH) == roles and set(ROLES) == set(CASIE.corpus.labels) == set(CASIE.corpus.labels_zh)


def test_casie_split_by_document_id():
    assert [document_split(i) for i in (0, 7, 8, 9, 10, 118, 10119)] == ["train", "train", "validation", "test", "train", "validation", "test"]


def test_casie_bad_files_are_rejected_with_their_name(tmp_path):
    annotation = tmp_path / "casie" / "annotation"
    annotation.mkdir(parents=True)
    (annotation / "10.json").write_text('{"content": "x", "cyberevent": ', encoding="utf-8")
    (annotation / "readme.json").write_text("{}", encoding="utf-8")
    (annotation / "20.json").write_text(json.dumps({"content": "Nothing happened.", "cyberevent": {"hopper": []}, "info": {}}), encoding="utf-8")
    builder = CASIE(config_name="casie_raw", data_dir=str(tmp_path / "casie"), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    dd = builder.as_dataset()
    assert set(dd) == {"train"}, "splits without a document are left out"
    reasons = sorted(r["reason"] for r in builder.report["train"]["rejected"])
    assert len(reasons) == 2
    assert reasons[0].startswith("annotation/10.json: invalid JSON")
    assert reasons[1] == "annotation/readme.json: file name is not a numeric CASIE document id"
    assert dd["train"]["id"] == ["20"]


# ---------------------------------------------------------------- the collection


def test_english_corpora_use_english_templates_and_stay_out_of_the_mixtures(fixture_build):
    build_ = read_build(fixture_build)
    built = {r.name for r in build_.results}
    assert set(ENGLISH) <= built
    for name in ENGLISH:
        (path,) = config_files(str(fixture_build))[f"{name}_instruct"]["validation"]
        table = pq.read_table(path, columns=["template_id", "instruction", "params"]).to_pylist()
        assert all("-en-" in row["template_id"] and row["params"]["language"] == "en" for row in table)
        assert not any("、" in row["instruction"] for row in table)
    zh = config_files(str(fixture_build))["duie_instruct"]["validation"][0]
    assert all("-zh-" in t for t in pq.read_table(zh, columns=["template_id"]).column("template_id").to_pylist())
    in_mixture = set()
    for paths in config_files(str(fixture_build))["all_unified"].values():
        for path in paths:
            in_mixture.update(pq.read_table(path, columns=["corpus"]).column("corpus").unique().to_pylist())
    assert in_mixture and in_mixture.isdisjoint(ENGLISH) and "duie" in in_mixture


def test_licences_reach_the_card_and_the_push_gate(fixture_build):
    card = (fixture_build / "README.md").read_text(encoding="utf-8")
    for cls in ENGLISH.values():
        assert cls.corpus.license in card
    excluded = {e.corpus for e in plan_release(fixture_build).excluded}
    assert {"conll04", "casie"} <= excluded and "wnut17" not in excluded


# ---------------------------------------------------------------- real samples

SAMPLE_DIRS = {"wnut17": "WNUT17", "conll04": "CoNLL04", "casie": "CASIE"}


def wnut_counts(path: Path) -> tuple:
    """(sentences, entities) of a WNUT file, counted from its lines: a line with a tag ends or
    continues a sentence, any other line separates; an entity starts at each B- tag."""
    sentences = entities = 0
    in_sentence = False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            sentences += not in_sentence
            in_sentence = True
            entities += line.split("\t")[-1].startswith("B-")
        else:
            in_sentence = False
    return sentences, entities


def raw_counts(name: str, corpus_dir: Path) -> dict:
    """``{split: (records, annotations, second count)}`` taken from the raw files directly."""
    if name == "wnut17":
        files = {"train": "wnut17train.conll", "validation": "emerging.dev.conll", "test": "emerging.test.annotated"}
        return {split: wnut_counts(corpus_dir / f) + (0,) for split, f in files.items()}
    if name == "conll04":
        files = {"train": "conll04_train.json", "validation": "conll04_dev.json", "test": "conll04_test.json"}
        counts = {}
        for split, f in files.items():
            records = json.loads((corpus_dir / f).read_text(encoding="utf-8"))
            counts[split] = (len(records), sum(len(r["entities"]) for r in records), sum(len(r["relations"]) for r in records))
        return counts
    counts = {}
    for path in (corpus_dir / "annotation").glob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        events = [e for hopper in document["cyberevent"]["hopper"] for e in hopper["events"]]
        split = document_split(int(path.stem))
        records, n_events, n_arguments = counts.get(split, (0, 0, 0))
        counts[split] = (records + 1, n_events + len(events), n_arguments + sum(len(e.get("argument", [])) for e in events))
    return counts


def unified_counts(name: str, dd) -> dict:
    counts = {}
    for split, ds in dd.items():
        if name == "wnut17":
            counts[split] = (len(ds), sum(len(e) for e in ds["entities"]), 0)
        elif name == "conll04":
            counts[split] = (len(ds), sum(len(e) for e in ds["entities"]), sum(len(r) for r in ds["relations"]))
        else:
            events = [e for record in ds["events"] for e in record]
            counts[split] = (len(ds), len(events), sum(len(e["arguments"]) for e in events))
    return counts


@pytest.mark.parametrize("name", list(ENGLISH))
def test_samples_convert_with_exact_spans_and_counts(name, samples_raw, tmp_path):
    corpus_dir = samples_raw / name
    views = build(ENGLISH[name], corpus_dir, tmp_path)
    raw_builder, _ = views["raw"]
    unified_builder, dd = views["unified"]
    for split, counts in raw_builder.report.items():
        assert counts["read"] == counts["written"] + len(counts["rejected"]) > 0
    assert all(r["reason"] for r in all_rejections(raw_builder) + all_rejections(unified_builder))
    assert not all_rejections(raw_builder) + all_rejections(unified_builder), "the samples are valid: nothing may be rejected"
    assert unified_counts(name, dd) == raw_counts(name, corpus_dir)
    for ds in dd.values():
        for record in ds:
            for span in spans_of(record):
                if span["start"] is None:
                    assert UNGROUNDED in record["flags"]
                else:
                    assert record["text"][span["start"] : span["end"]] == span["text"], (record["id"], span)
            if name != "casie":
                assert record["text"] == " ".join(record["text"].split(" ")) and "\t" not in record["text"]


def test_casie_sample_spans_match_their_annotated_text_or_are_flagged(samples_raw, tmp_path):
    """Every unified CASIE span carries its annotation's text (NBSP read as a space); a span whose
    source offsets did not slice to that text is flagged on its record."""
    corpus_dir = samples_raw / "casie"
    _, dd = build(CASIE, corpus_dir, tmp_path)["unified"]
    records = {r["id"].rsplit("-", 1)[1]: r for ds in dd.values() for r in ds}
    shifted = 0
    for path in (corpus_dir / "annotation").glob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        record = records[path.stem]
        assert record["text"] == document["content"]
        annotated = [
            mention
            for hopper in document["cyberevent"]["hopper"]
            for event in hopper["events"]
            for mention in [event["nugget"]] + event.get("argument", [])
        ]
        unified = [span for event in record["events"] for span in [event["trigger"]] + event["arguments"]]
        assert len(unified) == len(annotated)
        for mention, span in zip(annotated, unified):
            assert span["text"].replace("\u00a0", " ") == mention["text"].replace("\u00a0", " ")
            if document["content"][mention["startOffset"] : mention["endOffset"]] != mention["text"]:
                shifted += 1
                assert {OFFSET_CORRECTED, UNGROUNDED, NORMALISED_SPACE} & set(record["flags"]), (record["id"], mention)
    assert shifted > 0, "the samples hold shifted offsets (document 63)"


def test_sample_layout_is_what_the_builders_read(samples_raw):
    """raw_from_samples.sh lays the samples out under the names the builders look for."""
    for name, cls in ENGLISH.items():
        present = {p.name for p in (samples_raw / name).iterdir()}
        assert set(cls.corpus.expected_files()) <= present, name


def test_casie_reads_the_repository_archive(tmp_path, fixtures_dir):
    """The official download is the repository's zip (``CASIE-<commit>/data/annotation/``): the
    annotation folder is found inside it, with the same records as the folder itself."""
    import shutil
    import zipfile

    raw = tmp_path / "raw"
    raw.mkdir()
    with zipfile.ZipFile(raw / "CASIE-main.zip", "w") as archive:
        for path in sorted((fixtures_dir / "casie").rglob("*")):
            if path.is_file():
                archive.write(path, f"CASIE-main/data/{path.relative_to(fixtures_dir / 'casie')}")
    from_zip = CASIE(config_name="casie_unified", data_dir=str(raw), cache_dir=str(tmp_path / "zip_cache"))
    from_zip.download_and_prepare()
    plain = tmp_path / "plain"
    shutil.copytree(fixtures_dir / "casie", plain)
    from_folder = CASIE(config_name="casie_unified", data_dir=str(plain), cache_dir=str(tmp_path / "folder_cache"))
    from_folder.download_and_prepare()
    zipped, folder = from_zip.as_dataset(), from_folder.as_dataset()
    assert set(zipped) == set(folder) and all(zipped[s].to_list() == folder[s].to_list() for s in folder)
    assert sum(len(ds) for ds in folder.values()) == len(list((fixtures_dir / "casie" / "annotation").glob("*.json")))


def test_casie_corrupted_documents_are_rejected_never_crash(tmp_path, fixtures_dir):
    """Truncated, undecodable, mistyped and empty copies of a fixture document: each is rejected
    (raw or unified) with its reason, the intact documents still convert."""
    annotation = tmp_path / "casie" / "annotation"
    annotation.mkdir(parents=True)
    good = (fixtures_dir / "casie" / "annotation" / "3.json").read_bytes()
    document = json.loads(good)
    mistyped = dict(document, content=["not", "a", "string"])
    no_events = dict(document, cyberevent={"hopper": [{"index": 0, "events": [{"nugget": {"text": "x"}}]}]})
    offsets_as_text = json.loads(good)
    offsets_as_text["cyberevent"]["hopper"][0]["events"][0]["nugget"]["startOffset"] = "12"
    corrupted = {
        10: good[: len(good) // 2],
        20: b"\xff\xfe\x80" * 5,
        30: json.dumps(mistyped).encode(),
        40: json.dumps(no_events).encode(),
        50: json.dumps(offsets_as_text).encode(),
        60: b"",
        70: good,
    }
    for doc_id, data in corrupted.items():
        (annotation / f"{doc_id}.json").write_bytes(data)
    builder = CASIE(config_name="casie_unified", data_dir=str(tmp_path / "casie"), cache_dir=str(tmp_path / "cache"))
    builder.report = {}
    raws = list(builder.raw_records(str(annotation), "train"))
    report = builder.report["train"]
    assert report["read"] == len(corrupted) == report["written"] + len(report["rejected"])
    assert [key for key, _ in raws] == [70]
    assert all(r["reason"].strip() for r in report["rejected"])
    (file_instead,) = list(builder.read(str(annotation / "70.json"), "train"))
    assert isinstance(file_instead[1], Reject) and "not the folder" in file_instead[1].reason


def test_casie_zh_gives_roles_their_chinese_names_in_unified_and_instruct(fixtures_dir, tmp_path):
    """The translation output keeps CASIE's English roles (raw view); the Chinese corpus's unified rows,
    its schema and its instructions use ``roles_zh`` (an untranslated name would be English in Chinese text)."""
    from builders.casie import ROLES_ZH
    from builders.translated import CASIEZh

    views = build_views(CASIEZh, fixtures_dir / "casie_zh", tmp_path)
    raw_roles = {a["role"] for split in views["raw"][1].values() for r in split for e in r["events"] for a in e["arguments"]}
    unified_roles = [a["role"] for split in views["unified"][1].values() for r in split for e in r["events"] for a in e["arguments"]]
    assert raw_roles and raw_roles <= set(ROLES_ZH)
    assert unified_roles and set(unified_roles) <= set(ROLES_ZH.values())
    schema = views["unified"][0].label_schema()
    assert {role for roles in schema["roles"].values() for role in roles} == set(ROLES_ZH.values())
    rows = [r for split in views["instruct"][1].values() for r in split]
    assert rows and any("受害者" in r["instruction"] for r in rows)
    english = [role for role in ROLES_ZH if role != "CVE"]  # (CVE编号 holds "CVE")
    assert not [r["id"] for r in rows for text in (r["instruction"], r["output"]) if any(role in text for role in english)]
