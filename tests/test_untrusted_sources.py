"""Raw downloads are untrusted input (issue 13, the reading side): archives are read without
extraction (links, devices and FIFOs skipped, sizes capped), a corrupt archive or unreadable file
fails only its corpus, overlong lines and reasons are bounded, and UTF-16 files with a BOM read as
their UTF-8 twins. Every input is crafted in ``tmp_path``."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import tarfile
import tracemalloc
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from builders.cluener import CLUENER
from builders.duie import DuIE
from builders.weibo_ner import WeiboNER
from chinchilla_datasets.archives import Member, copy_member, copy_members
from chinchilla_datasets.cli import main
from chinchilla_datasets.collection import build_collection, bundled_fixtures
from chinchilla_datasets.outputs import PROBLEMS, REPORT_FILE
from chinchilla_datasets.sources import MAX_REASON_CHARS, SourceError, read_json_lines, read_lines, sniff_encoding

from conftest import SAMPLES

FIXTURES = bundled_fixtures()
DUIE_FILES = ("duie_train.json", "duie_dev.json", "duie_schema.json")


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (a FIFO member once blocked the build forever)."""

    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_special(tar: tarfile.TarFile, name: str, type_: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = linkname
    if type_ == tarfile.CHRTYPE:
        info.devmajor, info.devminor = 1, 5  # /dev/zero: reads without end
    tar.addfile(info)


def duie_tar(path: Path, *, dev: bytes | None = None, extra=lambda tar: None) -> Path:
    """A DuIE tar with the fixture's train and schema files, and ``dev`` (when given) as duie_dev.json."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name in ("duie_train.json", "duie_schema.json"):
            add_file(tar, f"DuIE2.0/{name}", (FIXTURES / "duie" / name).read_bytes())
        if dev is not None:
            add_file(tar, "DuIE2.0/duie_dev.json", dev)
        extra(tar)
    return path


def all_output_bytes(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())


def build(data: Path, out: Path, corpora: list, **kwargs) -> dict:
    lines = []
    report = build_collection(str(data), str(out), corpora, log=lines.append, **kwargs)
    report["_log"] = lines
    return report


# ---------------------------------------------------------------- links, devices, FIFOs, names
def test_symlink_chain_out_of_the_archive_reads_no_outside_byte(tmp_path):
    """The chain of the issue: y1 -> ., y2 -> y1/.., ..., y20 -> y19/.., then duie_dev.json ->
    y20/<absolute path of a secret file>. Extracted, it resolves to the secret; here it is skipped."""
    secret_text = "SECRET-4f1c9e 机密文件内容"
    secret = tmp_path / "private" / "secret.json"
    secret.parent.mkdir()
    # A valid DuIE record: had it been read, it would be a published row.
    secret.write_text(json.dumps({"text": secret_text, "spo_list": []}, ensure_ascii=False) + "\n", encoding="utf-8")

    def chain(tar):
        add_special(tar, "DuIE2.0/y1", tarfile.SYMTYPE, ".")
        for i in range(2, 21):
            add_special(tar, f"DuIE2.0/y{i}", tarfile.SYMTYPE, f"y{i - 1}/..")
        add_special(tar, "DuIE2.0/duie_dev.json", tarfile.SYMTYPE, f"y20{secret}")
        add_special(tar, "duie_dev.json", tarfile.LNKTYPE, str(secret))  # a hard link to it, too

    duie_tar(tmp_path / "raw" / "duie" / "DuIE2.0.tar", extra=chain)
    out = tmp_path / "out" / "chinchilla"
    report = build(tmp_path / "raw", out, ["duie"])
    written = all_output_bytes(out)
    assert b"SECRET-4f1c9e" not in written and "机密文件内容".encode() not in written
    assert "validation" not in report["duie"] and report["duie"]["train"]["written"] > 0
    notes = report[PROBLEMS]["duie"]["archive_members_skipped"]
    assert any("DuIE2.0/duie_dev.json: a symbolic link, skipped" in n for n in notes), notes
    assert any("duie_dev.json: a hard link, skipped" in n for n in notes), notes
    assert "DuIE2.0/y1: a symbolic link" in notes[2] and notes[-1] == "DuIE2.0.tar: 2 more members skipped (links, devices, FIFOs or unsafe names)"
    assert json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))[PROBLEMS] == report[PROBLEMS]


@pytest.mark.parametrize("type_, kind", [(tarfile.FIFOTYPE, "a FIFO"), (tarfile.CHRTYPE, "a character device"), (tarfile.BLKTYPE, "a block device")])
def test_fifo_and_device_members_are_skipped_and_the_build_finishes(tmp_path, type_, kind):
    duie_tar(tmp_path / "raw" / "duie" / "duie.tar", extra=lambda tar: add_special(tar, "duie_dev.json", type_))
    with deadline(120):
        report = build(tmp_path / "raw", tmp_path / "out" / "chinchilla", ["duie"])
    assert report[PROBLEMS]["duie"]["archive_members_skipped"] == [f"duie.tar: duie_dev.json: {kind}, skipped (only regular files are read)"]
    assert set(report["duie"]) == {"train"}


def test_special_member_beside_a_regular_one_of_the_same_name(tmp_path):
    """A FIFO at the top and the real file deeper: the regular file is read, the FIFO never opened."""
    dev = (FIXTURES / "duie" / "duie_dev.json").read_bytes()
    archive = duie_tar(tmp_path / "duie.tar", dev=dev, extra=lambda tar: add_special(tar, "duie_dev.json", tarfile.FIFOTYPE))
    with deadline(30):
        contents = copy_members(str(archive), DUIE_FILES, str(tmp_path / "copy"))
    assert Path(contents.files["duie_dev.json"]).read_bytes() == dev
    assert contents.notes == ["duie.tar: duie_dev.json: a FIFO, skipped (only regular files are read)"]


def test_zip_symlink_member_is_skipped(tmp_path):
    archive = tmp_path / "duie.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("duie_train.json", (FIXTURES / "duie" / "duie_train.json").read_bytes())
        link = zipfile.ZipInfo("duie_dev.json")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    contents = copy_members(str(archive), DUIE_FILES, str(tmp_path / "copy"))
    assert set(contents.files) == {"duie_train.json"}
    assert contents.notes == ["duie.zip: duie_dev.json: a symbolic link, skipped (only regular files are read)"]
    assert not any(p.is_symlink() for p in (tmp_path / "copy").iterdir())


def test_zip_encrypted_member_is_skipped_not_asked_for_a_password(tmp_path):
    archive = tmp_path / "duie.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("duie_dev.json", b"\x00" * 40)
    data = bytearray(archive.read_bytes())
    # Set the "encrypted" bit (zipfile would raise asking for a password) in both headers.
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    data[6] |= 0x1
    archive.write_bytes(bytes(data))
    contents = copy_members(str(archive), DUIE_FILES, str(tmp_path / "copy"))
    assert contents.files == {} and contents.notes == ["duie.zip: duie_dev.json: an encrypted file, skipped (only regular files are read)"]


@pytest.mark.parametrize("name", ["../duie_dev.json", "/tmp/duie_dev.json", "a/../../duie_dev.json", "C:/x/duie_dev.json"])
def test_path_traversal_names_are_skipped(tmp_path, name):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        add_file(tar, name, b'{"text": "x", "spo_list": []}\n')
    folder = tmp_path / "deep" / "copy"
    contents = copy_members(str(archive), DUIE_FILES, str(folder))
    assert contents.files == {} and contents.notes == [f"evil.tar: {name}: a path outside the archive, skipped"]
    assert list(folder.iterdir()) == [] and not (tmp_path / "deep" / "duie_dev.json").exists()


def test_only_wanted_regular_members_are_copied_shallowest_first(tmp_path):
    archive = tmp_path / "duie.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_file(tar, "a/b/duie_dev.json", b"deep\n")
        add_file(tar, "z/duie_dev.json", b"shallow\n")
        add_file(tar, "README.md", b"not wanted\n")
    contents = copy_members(str(archive), DUIE_FILES, str(tmp_path / "copy"))
    assert {n: Path(p).read_bytes() for n, p in contents.files.items()} == {"duie_dev.json": b"shallow\n"}
    assert sorted(os.listdir(tmp_path / "copy")) == ["duie_dev.json"]


# ---------------------------------------------------------------- size caps
def test_member_past_the_cap_fails_before_filling_the_disk(tmp_path):
    """A 64 MiB member of zeros (a few KB compressed) with a 1 MiB cap: stopped at the cap."""
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("duie_train.json", "w") as member:
            for _ in range(64):
                member.write(bytes(1 << 20))
    assert archive.stat().st_size < 1 << 20
    with pytest.raises(SourceError, match=r"bomb.zip: duie_train.json: more than 1048576 bytes decompressed .*--max-archive-bytes"):
        copy_members(str(archive), DUIE_FILES, str(tmp_path / "copy"), max_bytes=1 << 20)
    assert sum(p.stat().st_size for p in (tmp_path / "copy").iterdir()) <= 1 << 20


def test_the_cap_counts_bytes_read_not_the_size_a_header_claims(tmp_path):
    """A member whose header claims 10 bytes but yields 5,000 is stopped at the cap."""
    liar = Member("duie_dev.json", "file", 10, lambda: io.BytesIO(b"x" * 5000))
    with pytest.raises(SourceError, match="more than 1000 bytes"):
        copy_member(liar, str(tmp_path / "duie_dev.json"), "liar.zip", 1000)
    assert (tmp_path / "duie_dev.json").stat().st_size <= 1000


def test_total_of_an_archive_is_capped(tmp_path):
    archive = tmp_path / "duie.tar"
    with tarfile.open(archive, "w") as tar:
        add_file(tar, "duie_train.json", b"a" * 600)
        add_file(tar, "duie_dev.json", b"b" * 600)
    copy_members(str(archive), DUIE_FILES, str(tmp_path / "ok"), max_bytes=1200)
    with pytest.raises(SourceError, match="more than 1000 bytes"):
        copy_members(str(archive), DUIE_FILES, str(tmp_path / "copy"), max_bytes=1000)


def test_cli_cap_flag_fails_the_corpus_and_raising_it_builds(tmp_path, capsys):
    duie_tar(tmp_path / "raw" / "duie" / "duie.tar", dev=(FIXTURES / "duie" / "duie_dev.json").read_bytes())
    out = tmp_path / "out" / "chinchilla"
    code = main(["build", "--data-dir", str(tmp_path / "raw"), "--out", str(out), "--corpus", "duie", "--max-archive-bytes", "100"])
    assert code == 2 and "nothing to build" in capsys.readouterr().err
    code = main(["build", "--data-dir", str(tmp_path / "raw"), "--out", str(out), "--corpus", "duie", "--max-archive-bytes", str(1 << 20)])
    assert code == 0 and json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))["duie"]["validation"]["written"] > 0


# ---------------------------------------------------------------- corrupt archives, unreadable files
def copy_fixture(name: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for f in (FIXTURES / name).iterdir():
        (dest / f.name).write_bytes(f.read_bytes())


def good_zip(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in ("train.json", "dev.json", "test.json"):
            z.write(FIXTURES / "cluener" / name, name)
    return path.read_bytes()


@pytest.mark.parametrize("archive, cut", [("cluener_public.zip", 0.6), ("cluener.tar.gz", 0.6), ("cluener.tar", 0.5)])
def test_truncated_archive_fails_its_corpus_and_the_others_build(tmp_path, capsys, archive, cut):
    raw = tmp_path / "raw"
    copy_fixture("duie", raw / "duie")
    folder = raw / "cluener"
    folder.mkdir(parents=True)
    path = folder / archive
    if archive.endswith(".zip"):
        data = good_zip(path)
    else:
        with tarfile.open(path, "w:gz" if archive.endswith(".gz") else "w") as tar:
            for name in ("train.json", "dev.json", "test.json"):
                tar.add(FIXTURES / "cluener" / name, name)
        data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    out = tmp_path / "out" / "chinchilla"
    code = main(["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duie", "cluener"])
    printed = capsys.readouterr()
    assert code == 1
    kind = "zip" if archive.endswith(".zip") else "tar.gz" if archive.endswith(".gz") else "tar"
    line = f"cluener: {archive}: not a valid {kind} (truncated?)"
    assert line in printed.err and "Traceback" not in printed.err + printed.out
    assert len([l for l in printed.err.splitlines() if l.strip()]) == 1
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert report[PROBLEMS]["cluener"]["failed"].startswith(f"{archive}: not a valid {kind} (truncated?)")
    assert "cluener" not in report and report["duie"]["train"]["written"] > 0
    assert not any(p.name.startswith("cluener_") for p in out.iterdir())
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "duie_unified" in card and "config_name: cluener_unified" not in card


def test_unreadable_split_file_fails_its_corpus_with_one_line(tmp_path, capsys):
    """(Tests run as root, where permissions do not stop a read: a dangling link is unreadable for all.)"""
    raw = tmp_path / "raw"
    copy_fixture("duie", raw / "duie")
    copy_fixture("cluener", raw / "cluener")
    (raw / "duie" / "duie_dev.json").unlink()
    (raw / "duie" / "duie_dev.json").symlink_to(tmp_path / "gone.json")
    out = tmp_path / "out" / "chinchilla"
    code = main(["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duie", "cluener"])
    printed = capsys.readouterr()
    assert code == 1 and "Traceback" not in printed.err
    assert "chinchilla build: duie: duie_dev.json: cannot read: No such file or directory" in printed.err
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert report["cluener"]["train"]["written"] > 0 and "duie" not in report
    assert "duie_dev.json: cannot read" in report[PROBLEMS]["duie"]["failed"]


def test_pinned_download_archives_are_read_without_extraction(tmp_path):
    """The URL path (no data_dir): a downloaded archive goes through the same reader."""
    archive = tmp_path / "dl" / "cluener_public.zip"
    archive.parent.mkdir()
    good_zip(archive)

    class ZipDownload(CLUENER):
        corpus = None  # keep the parent's configs

    ZipDownload.corpus = CLUENER.corpus.__class__(**{**CLUENER.corpus.__dict__, "urls": {"cluener_public.zip": "https://example.invalid/c.zip"}})

    class FakeDownloads:
        def download(self, urls):
            return {name: str(archive) for name in urls}

        def extract(self, path):  # the old path; must not be used
            raise AssertionError("archives are not extracted")

    builder = ZipDownload(config_name="cluener_unified", cache_dir=str(tmp_path / "cache"))
    files = builder.locate_files(FakeDownloads())
    assert set(files) == {"train", "validation", "test"}
    assert all(Path(p).read_bytes() == (FIXTURES / "cluener" / Path(p).name).read_bytes() for p in files.values())
    assert all(str(tmp_path / "cache") in p for p in files.values())


# ---------------------------------------------------------------- long lines and reasons
def test_overlong_line_is_rejected_by_number_in_bounded_memory(tmp_path):
    path = tmp_path / "duie_train.json"
    good = b'{"text": "a", "spo_list": []}\n'
    with open(path, "wb") as f:
        f.write(good)
        f.write(b'{"text": "' + b"x" * (20 << 20) + b'"}\n')
        f.write(good)
    tracemalloc.start()
    try:
        items = list(read_json_lines(str(path), max_line_bytes=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [n for n, _ in items] == [1, 2, 3]
    assert items[1][1].reason == f"line longer than {1 << 20} bytes (the limit): not read"
    assert items[0][1] == items[2][1] == {"text": "a", "spo_list": []}
    assert peak < 6 << 20, f"peak {peak} bytes: the 20 MiB line was held"


def test_default_line_cap_rejects_a_20_mib_line(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"ok\n" + b"y" * (20 << 20) + b"\nok")
    lines = list(read_lines(str(path)))
    assert lines[0] == (1, "ok") and lines[2] == (3, "ok") and "line longer than" in lines[1][1].reason


def test_long_rejection_reasons_are_cut_with_their_length(tmp_path):
    """A 200,000-character token without a tag: the reason quoting it is cut in the report."""
    data = tmp_path / "weibo"
    data.mkdir()
    (data / "weiboNER_2nd_conll.train").write_text("张0\tO\n" + "长" * 200_000 + "\n\n李0\tB-PER.NAM\n", encoding="utf-8")
    builder = WeiboNER(config_name="weibo_ner_raw", data_dir=str(data), cache_dir=str(tmp_path / "cache"))
    list(builder.raw_records(str(data / "weiboNER_2nd_conll.train"), "train"))
    (reject,) = builder.report["train"]["rejected"]
    assert len(reject["reason"]) < MAX_REASON_CHARS + 60
    assert reject["reason"].startswith("line 2: expected 'token<TAB>tag'") and "characters)" in reject["reason"]
    assert str(len("line 2: expected 'token<TAB>tag', got ") + 200_002) in reject["reason"]


# ---------------------------------------------------------------- encodings
def utf16_copy(source: Path, dest: Path, encoding: str) -> None:
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    dest.write_bytes(bom + source.read_bytes().decode("utf-8").encode(encoding))


def run_views(cls, folder: Path, cache: Path, files: list) -> tuple:
    """Raw and unified records and reports of every split file in ``folder``."""
    out, reports = {}, {}
    for name in files:
        for split, names in cls.corpus.files.items():
            if name not in names:
                continue
            builder = cls(config_name=f"{cls.corpus.name}_unified", data_dir=str(folder), cache_dir=str(cache))
            raws = list(builder.raw_records(str(folder / name), split))
            reports[split], builder.report = builder.report[split], {}
            unified = list(builder.unified_records(str(folder / name), split)) if split not in cls.corpus.unlabelled_splits else []
            out[split] = (raws, unified)
    return out, reports


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(
    "cls, source",
    [(WeiboNER, FIXTURES / "weibo_ner"), (DuIE, FIXTURES / "duie"), (WeiboNER, SAMPLES / "WeiboNER")],
    ids=["weibo-fixture", "duie-fixture", "weibo-samples"],
)
def test_utf16_with_bom_gives_the_same_rows_as_utf8(tmp_path, cls, source, encoding):
    if not source.is_dir():
        pytest.skip(f"{source} is absent")
    files = [f for names in cls.corpus.files.values() for f in names if (source / f).is_file()]
    utf16 = tmp_path / "utf16"
    utf16.mkdir()
    for name in files:
        utf16_copy(source / name, utf16 / name, encoding)
        assert sniff_encoding(str(utf16 / name)) == encoding
    good, good_reports = run_views(cls, source, tmp_path / "a", files)
    after, after_reports = run_views(cls, utf16, tmp_path / "b", files)
    assert after == good
    assert sum(len(raws) for raws, _ in good.values()) > 0
    for split, report in after_reports.items():
        assert report["encoding"] == encoding
        assert {k: v for k, v in report.items() if k != "encoding"} == {k: v for k, v in good_reports[split].items() if k != "encoding"}


def test_utf16_newline_bytes_inside_characters_do_not_cut_lines(tmp_path):
    """U+0A0A and U+000A-like bytes: in UTF-16 a 0x0A byte may be half of a character."""
    text = "\u0a0a\u0a00甲\n\u000a乙\u0a0a\n"
    for encoding, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")):
        path = tmp_path / encoding
        path.write_bytes(bom + text.encode(encoding))
        assert list(read_lines(str(path))) == [(1, "\u0a0a\u0a00甲"), (2, ""), (3, "乙\u0a0a")]


def test_build_report_records_each_files_encoding(tmp_path):
    raw = tmp_path / "raw"
    copy_fixture("weibo_ner", raw / "weibo_ner")
    train = raw / "weibo_ner" / "weiboNER_2nd_conll.train"
    utf16_copy(train, train, "utf-16-le")
    dev = raw / "weibo_ner" / "weiboNER_2nd_conll.dev"
    dev.write_bytes(dev.read_text(encoding="utf-8").encode("gb18030"))
    report = build(raw, tmp_path / "out" / "chinchilla", ["weibo_ner"])
    assert {s: c["encoding"] for s, c in report["weibo_ner"].items()} == {"train": "utf-16-le", "validation": "gb18030", "test": "utf-8"}


# ---------------------------------------------------------------- DuIE: cost linear in the SPOs
def duie_to_unified_before(raw):
    """DuIE.to_unified as it was (entities deduplicated by scanning the list): the reference."""
    from builders.duie import SLOTS
    from chinchilla_datasets.base import unified_record
    from chinchilla_datasets.spans import entity

    text, flags = raw["text"], []
    entities, relations = [], []
    for spo in raw["spo_list"]:
        head = entity(text, spo["subject_type"], spo["subject"], flags=flags)
        tail = entity(text, spo["object_type"]["@value"], spo["object"]["@value"], flags=flags)
        qualifiers = []
        for slot in SLOTS[1:]:
            value = spo["object"][slot]
            if value is not None:
                qualifiers.append({"role": slot, **entity(text, spo["object_type"][slot], value, flags=flags)})
        relations.append({"type": spo["predicate"], "head": head, "tail": tail, "qualifiers": qualifiers})
        for mention in (head, tail):
            if mention not in entities:
                entities.append(mention)
    return unified_record(text, entities=entities, relations=relations, flags=flags)


class CountingStr(str):
    """A mention that counts how often it is compared for equality."""

    comparisons = 0

    def __eq__(self, other):
        CountingStr.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def many_spos(n: int) -> dict:
    """A conformed DuIE record with ``n`` SPOs over ``2n`` distinct mentions (and a few repeats)."""
    names = [f"甲{i}乙" for i in range(2 * n)]
    spos = []
    for i in range(n):
        obj = {slot: None for slot in ("@value", "inWork", "onDate", "inArea", "period")}
        obj_type = dict(obj)
        obj["@value"], obj_type["@value"] = CountingStr(names[2 * i + 1]), CountingStr("作品")
        if i % 7 == 0:
            obj["onDate"], obj_type["onDate"] = CountingStr(names[0]), CountingStr("Date")
        spos.append({"predicate": "作者", "subject": CountingStr(names[2 * i]), "subject_type": CountingStr("人物"), "object": obj, "object_type": obj_type})
    return {"text": "，".join(names) + "。未出现", "spo_list": spos}


def test_duie_conversion_is_linear_in_the_spos():
    """Equality comparisons of mentions: the old conversion made about n^2 / 2 of them; now a few per SPO."""
    small = many_spos(300)
    CountingStr.comparisons = 0
    before = duie_to_unified_before(small)
    assert CountingStr.comparisons > 300**2 / 4  # the measure sees the quadratic scan
    assert DuIE(config_name="duie_unified").to_unified(small) == before
    big = many_spos(5000)
    CountingStr.comparisons = 0
    record = DuIE(config_name="duie_unified").to_unified(big)
    # (Grounding still scans the text once per distinct mention: that cost is in the text's length.)
    assert CountingStr.comparisons <= 10 * 5000, CountingStr.comparisons
    assert len(record["relations"]) == 5000 and len(record["entities"]) == 10_000


def test_duie_conversion_matches_the_old_one_on_real_records():
    paths = [FIXTURES / "duie" / "duie_train.json", FIXTURES / "duie" / "duie_dev.json", SAMPLES / "DuIE2.0" / "train_data_5000.json", SAMPLES / "DuIE2.0" / "duie_dev.json"]
    builder = DuIE(config_name="duie_unified")
    compared = 0
    for path in paths:
        if not path.is_file():
            continue
        for _, raw in builder.raw_records(str(path), "train"):
            assert builder.to_unified(raw) == duie_to_unified_before(raw)
            compared += 1
    assert compared >= 5


def test_utf16_files_are_not_cut_into_byte_line_shards(tmp_path):
    """Line shards are cut at 0x0A bytes: right for UTF-8 and GB18030, wrong inside UTF-16."""
    builder = DuIE(config_name="duie_raw")
    utf8, utf16, bom8 = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    source = FIXTURES / "duie" / "duie_train.json"
    utf8.write_bytes(source.read_bytes())
    bom8.write_bytes(b"\xef\xbb\xbf" + source.read_bytes())
    utf16_copy(source, utf16, "utf-16-le")
    assert builder.shardable(str(utf8)) and builder.shardable(str(bom8)) and not builder.shardable(str(utf16))


def test_a_wanted_folder_in_an_archive_is_copied_without_its_links(tmp_path):
    """CASIE's ``annotation/`` inside the repository archive: its regular files are copied into
    ``annotation/``; a link among them is skipped with a note, never followed."""
    from chinchilla_datasets.archives import copy_members

    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-BYTES", encoding="utf-8")
    archive = tmp_path / "casie.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in (("repo/data/annotation/1.json", b'{"a": 1}'), ("repo/other/annotation/9.json", b"deeper")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("repo/data/annotation/2.json")
        link.type, link.linkname = tarfile.SYMTYPE, str(secret)
        tar.addfile(link)
    contents = copy_members(str(archive), ["annotation"], str(tmp_path / "copy"))
    folder = tmp_path / "copy" / "annotation"
    assert contents.files == {"annotation": str(folder)}
    assert sorted(p.name for p in folder.iterdir()) == ["1.json"]
    assert (folder / "1.json").read_bytes() == b'{"a": 1}'
    assert any("2.json" in note and "symbolic link" in note for note in contents.notes)
