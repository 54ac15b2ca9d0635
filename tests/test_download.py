"""`chinchilla download` against files served from a local HTTP server (loopback only): layout under
official names, checksum verification, resume of a partial file, and nothing half-written."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chinchilla_datasets import cli
from chinchilla_datasets.download import CHECKSUMS, DownloadError, download_all, download_corpus, read_checksums
from chinchilla_datasets.registry import get_builder


class FileServer:
    """Serves ``files`` ({url path: bytes}) with Range support; records every request."""

    def __init__(self, files: dict, honour_range: bool = True):
        self.files = files
        self.requests: list = []  # (path, Range header or None)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and honour_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                self.wfile.write(body[start:])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _corpus(server: FileServer, files: dict, sha256: dict = None):
    """The real Weibo corpus metadata, with its URLs pointed at the local server."""
    corpus = get_builder("weibo_ner").corpus
    return dataclasses.replace(corpus, urls={name: f"{server.url}/{name}" for name in files}, sha256=sha256 or {})


FILES = {
    "weiboNER_2nd_conll.train": "我\tO\n在\tO\n北\tB-GPE.NAM\n京\tI-GPE.NAM\n\n".encode() * 500,
    "weiboNER_2nd_conll.dev": "好\tO\n\n".encode(),
}


def test_download_lays_out_official_names_and_records_checksums(tmp_path):
    with FileServer({f"/{k}": v for k, v in FILES.items()}) as server:
        fetched = download_corpus(_corpus(server, FILES), tmp_path, progress=False, log=lambda _: None)
    folder = tmp_path / "weibo_ner"
    assert sorted(f.name for f in fetched) == sorted(FILES)
    for name, body in FILES.items():
        assert (folder / name).read_bytes() == body
    assert read_checksums(folder) == {name: hashlib.sha256(body).hexdigest() for name, body in FILES.items()}
    assert not list(folder.glob("*.part"))


def test_rerun_verifies_without_a_request(tmp_path):
    with FileServer({f"/{k}": v for k, v in FILES.items()}) as server:
        download_corpus(_corpus(server, FILES), tmp_path, progress=False, log=lambda _: None)
        server.requests.clear()
        again = download_corpus(_corpus(server, FILES), tmp_path, progress=False, log=lambda _: None)
    assert server.requests == []
    assert {f.status for f in again} == {"verified"}


def test_partial_file_is_resumed_with_a_range_request(tmp_path):
    name = "weiboNER_2nd_conll.train"
    body = FILES[name]
    folder = tmp_path / "weibo_ner"
    folder.mkdir()
    (folder / f"{name}.part").write_bytes(body[:1000])
    pin = {name: hashlib.sha256(body).hexdigest()}
    with FileServer({f"/{name}": body}) as server:
        fetched = download_corpus(_corpus(server, {name: body}, pin), tmp_path, progress=False, log=lambda _: None)
    assert server.requests == [(f"/{name}", "bytes=1000-")]
    assert fetched[0].status == "resumed"
    assert (folder / name).read_bytes() == body


def test_server_ignoring_range_restarts_the_file(tmp_path):
    name = "weiboNER_2nd_conll.train"
    body = FILES[name]
    folder = tmp_path / "weibo_ner"
    folder.mkdir()
    (folder / f"{name}.part").write_bytes(b"garbage that is not the start of the file")
    with FileServer({f"/{name}": body}, honour_range=False) as server:
        download_corpus(_corpus(server, {name: body}), tmp_path, progress=False, log=lambda _: None)
    assert (folder / name).read_bytes() == body


def test_checksum_mismatch_is_one_error_and_leaves_nothing(tmp_path):
    name = "weiboNER_2nd_conll.dev"
    with FileServer({f"/{name}": FILES[name]}) as server:
        with pytest.raises(DownloadError, match=r"weiboNER_2nd_conll.dev: checksum mismatch"):
            download_corpus(_corpus(server, {name: b""}, {name: "0" * 64}), tmp_path, progress=False, log=lambda _: None)
    assert list((tmp_path / "weibo_ner").iterdir()) == []


def test_changed_upstream_file_fails_against_the_recorded_checksum(tmp_path):
    name = "weiboNER_2nd_conll.dev"
    with FileServer({f"/{name}": FILES[name]}) as server:
        download_corpus(_corpus(server, {name: b""}), tmp_path, progress=False, log=lambda _: None)
    (tmp_path / "weibo_ner" / name).unlink()  # deleted by the user; upstream changed meanwhile
    with FileServer({f"/{name}": b"other bytes\n"}) as server:
        with pytest.raises(DownloadError, match="checksum mismatch"):
            download_corpus(_corpus(server, {name: b""}), tmp_path, progress=False, log=lambda _: None)
    assert not (tmp_path / "weibo_ner" / name).exists()
    assert CHECKSUMS in {p.name for p in (tmp_path / "weibo_ner").iterdir()}


def test_http_error_names_the_file_and_other_corpora_go_on(tmp_path):
    lines = []
    with FileServer({}) as server:
        broken = _corpus(server, {"weiboNER_2nd_conll.dev": b""})
        manual = get_builder("duie").corpus
        summary = download_all([broken, manual], tmp_path, progress=False, log=lines.append)
    assert summary["failed"] and "HTTP 404" in summary["failed"]["weibo_ner"]
    assert summary["manual"] == ["duie"]
    assert any("duie: needs registration at" in line and "duie_train.json" in line for line in lines)


def test_downloaded_folder_builds(tmp_path):
    """What download lays out is what build reads."""
    from chinchilla_datasets.collection import bundled_fixtures

    fixtures = bundled_fixtures() / "weibo_ner"
    files = {p.name: p.read_bytes() for p in fixtures.iterdir() if p.is_file()}
    with FileServer({f"/{k}": v for k, v in files.items()}) as server:
        download_corpus(_corpus(server, files), tmp_path / "raw", progress=False, log=lambda _: None)
    assert cli.main(["build", "--data-dir", str(tmp_path / "raw"), "--out", str(tmp_path / "b" / "chinchilla"), "--corpus", "weibo_ner"]) == 0
    assert (tmp_path / "b" / "chinchilla" / "weibo_ner_unified").is_dir()


def test_cli_registration_only(tmp_path, capsys):
    assert cli.main(["download", "--data-dir", str(tmp_path), "--corpus", "duie", "duee", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "duie: needs registration" in out and "duee: needs registration" in out
    assert "0 corpora downloaded or verified" in out and "2 need registration" in out


def test_readme_lists_every_corpus_with_its_page_and_download():
    """The README's "Getting the data" table names every registered corpus, its official page and
    whether `download` fetches it."""
    from chinchilla_datasets.registry import builders

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Getting the data", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip().strip("`"): line for line in section.splitlines() if line.startswith("| `")}
    assert set(rows) == set(builders())
    for name, cls in builders().items():
        assert f"<{cls.corpus.homepage}>" in rows[name]
        assert ("| yes: " in rows[name]) == bool(cls.corpus.urls)
