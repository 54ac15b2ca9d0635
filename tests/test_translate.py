"""``chinchilla translate``: the marker protocol, projection, fallbacks and faults, against the fake server."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from chinchilla_datasets.cli import main
from chinchilla_datasets.llm import ChatClient, ResponseCache
from chinchilla_datasets.translate import (
    MENTION_PROMPT,
    Translator,
    find_once,
    parse_reply,
    strip_wrappers,
    tag_record,
)
from fake_openai import Reply, fake_openai, free_port_url  # noqa: F401  (fixture)


def entity(text: str, mention: str, type_: str, nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = text.index(mention, start + 1)
    return {"type": type_, "text": mention, "start": start, "end": start + len(mention)}


def record(text: str, entities=(), relations=(), events=(), rid="conll04-train-1", task="RE") -> dict:
    return {"id": rid, "corpus": rid.split("-")[0], "task": task, "text": text, "entities": list(entities),
            "relations": list(relations), "events": list(events), "flags": []}


ALICE = "Alice Smith works for Acme Corp in Paris."
ALICE_TAGGED = "<m1>Alice Smith</m1> works for <m2>Acme Corp</m2> in <m3>Paris</m3>."
ALICE_ZH = "<m1>爱丽丝·史密斯</m1>在<m3>巴黎</m3>的<m2>Acme公司</m2>工作。"


def alice() -> dict:
    person, org, city = entity(ALICE, "Alice Smith", "Peop"), entity(ALICE, "Acme Corp", "Org"), entity(ALICE, "Paris", "Loc")
    return record(ALICE, [person, org, city], [{"type": "Work_For", "head": dict(person), "tail": dict(org), "qualifiers": []}])


# ------------------------------------------------------------------------------------ protocol
def test_tags_number_spans_by_start_then_longest_and_nest():
    text = "The Bank of China Tower is in Hong Kong."
    r = record(text, [entity(text, "Bank of China Tower", "Fac"), entity(text, "Bank of China", "Org"),
                      entity(text, "Hong Kong", "Loc")])
    tagged = tag_record(text, r)
    assert tagged.text == "The <m1><m2>Bank of China</m2> Tower</m1> is in <m3>Hong Kong</m3>."
    assert tagged.spans == [(4, 23), (4, 17), (30, 39)] and all(tagged.wrapped)


def test_a_span_shared_by_entity_and_relation_is_one_tag():
    tagged = tag_record(ALICE, alice())
    assert tagged.text == ALICE_TAGGED and len(tagged.spans) == 3


def test_crossing_span_is_numbered_but_not_wrapped_and_null_spans_are_skipped():
    text = "new york city hall"
    r = record(text, [{"type": "A", "text": "new york city", "start": 0, "end": 13},
                      {"type": "B", "text": "city hall", "start": 9, "end": 18},
                      {"type": "C", "text": "gone", "start": None, "end": None}])
    tagged = tag_record(text, r)
    assert tagged.text == "<m1>new york city</m1> hall"
    assert tagged.spans == [(0, 13), (9, 18)] and tagged.wrapped == [True, False]


def test_adjacent_and_empty_spans():
    text = "ab"
    r = record(text, [{"type": "X", "text": "a", "start": 0, "end": 1}, {"type": "Y", "text": "b", "start": 1, "end": 2},
                      {"type": "Z", "text": "", "start": 1, "end": 1}])
    assert tag_record(text, r).text == "<m1>a</m1><m2><m3></m3>b</m2>"


@pytest.mark.parametrize(
    "reply",
    [
        "```\n译文\n```",
        "```text\n译文\n```",
        "Here is the translation:\n译文",
        "以下是翻译：\n译文",
        "Translation: 译文",
        "  译文  \n",
        "译文\nNote: the names were transliterated.",
        "```译文```",
        "Sure, here is the Chinese translation: 译文",
    ],
)
def test_fences_prefaces_and_notes_are_stripped(reply):
    assert strip_wrappers(reply, "Text.") == "译文"


@pytest.mark.parametrize(
    "reply, source",
    [
        ("翻译：一篇文章", "Translation: an article"),
        ("翻译家说：明天下雨", "The translator said: rain tomorrow"),
        ("这是计划：明天出发", "This is the plan: leave tomorrow"),
        ("好的：我们走吧", "OK: let us go"),
    ],
)
def test_text_opening_with_a_colon_phrase_keeps_it(reply, source):
    assert strip_wrappers(reply, source) == reply


def test_parse_reply_locates_every_span():
    tagged = tag_record(ALICE, alice())
    parsed = parse_reply(ALICE_ZH, tagged, ALICE)
    assert parsed.clean and parsed.text == "爱丽丝·史密斯在巴黎的Acme公司工作。"
    assert {n: parsed.text[s:e] for n, (s, e) in parsed.offsets.items()} == {1: "爱丽丝·史密斯", 2: "Acme公司", 3: "巴黎"}


def test_tags_with_spaces_or_capitals_are_read():
    parsed = parse_reply("<M1>爱丽丝·史密斯</ m1>在< m3 >巴黎</m3>的<m2>Acme公司</m2>工作。", tag_record(ALICE, alice()), ALICE)
    assert parsed.clean and parsed.text == "爱丽丝·史密斯在巴黎的Acme公司工作。"
    assert {n: parsed.text[s:e] for n, (s, e) in parsed.offsets.items()} == {1: "爱丽丝·史密斯", 2: "Acme公司", 3: "巴黎"}


@pytest.mark.parametrize(
    "reply, problems, stray",
    [
        ("<m1>爱丽丝</m1>在巴黎的<m2>Acme公司</m2>工作。", {3: "missing"}, 0),
        ("<m1>爱丽丝</m1>在<m3>巴黎</m3>的<m2>Acme</m2><m2>公司</m2>工作。", {2: "duplicated"}, 0),
        ("<m1>爱丽丝</m1>在<m3>巴黎的<m2>Acme公司</m2>工作。", {3: "unbalanced"}, 0),
        ("<m1>爱丽丝</m1>在<m3>巴黎</m3的<m2>Acme公司</m2>工作。", {3: "broken"}, 0),
        ("<m1>爱丽丝</m1>在<m3>巴黎</m3>的<m2>Acme公司</m2><m7>工作</m7>。", {}, 2),
        ("<m1></m1>在<m3>巴黎</m3>的<m2>Acme公司</m2>工作。", {1: "empty"}, 0),
    ],
)
def test_parse_reply_names_bad_tags(reply, problems, stray):
    parsed = parse_reply(reply, tag_record(ALICE, alice()), ALICE)
    assert parsed.problems == problems and parsed.stray == stray and not parsed.clean
    assert "<" not in parsed.text and ">" not in parsed.text.replace("》", "")


def test_find_once():
    assert find_once("在巴黎和巴黎", "巴黎") is None
    assert find_once("在巴黎工作", "巴黎") == (1, 3)
    assert find_once("ITV 的 IT 部门", "IT") == (6, 8)
    assert find_once("没有", "巴黎") is None


# ------------------------------------------------------------------------------------ requests
def is_mention_request(messages) -> bool:
    return messages[0]["content"] == MENTION_PROMPT


def run_translator(server, records, cache=None, **client_options):
    options = {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 2.0, **client_options}

    async def go():
        async with ChatClient(server.base_url, "fake-model", **options) as client:
            translator = Translator(client, cache)
            return await asyncio.gather(*(translator.translate(r, "conll04", "train", i + 1) for i, r in enumerate(records)))

    return asyncio.run(go())


def assert_projected(out: dict, expected: dict):
    """Every span's offsets slice to its Chinese text, and the texts are the expected ones."""
    for span in [*out["entities"], *(s for r in out["relations"] for s in (r["head"], r["tail"]))]:
        assert out["text"][span["start"]:span["end"]] == span["text"]
    assert {e["type"]: e["text"] for e in out["entities"]} == expected


EXPECTED_ALICE = {"Peop": "爱丽丝·史密斯", "Org": "Acme公司", "Loc": "巴黎"}


@pytest.mark.parametrize(
    "replies, requests",
    [
        ([ALICE_ZH], 1),
        ([Reply.http(500), ALICE_ZH], 2),
        ([Reply.http(429, retry_after=0.01), ALICE_ZH], 2),
        ([Reply.slow(ALICE_ZH, 3.0), ALICE_ZH], 2),  # past the 2 s timeout: asked again
        ([Reply.fenced(ALICE_ZH)], 1),
        ([Reply.prefaced(ALICE_ZH)], 1),
        ([Reply.broken_json(), ALICE_ZH], 2),
        (["<m1>爱丽丝·史密斯</m1>在巴黎的<m2>Acme公司</m2>工作。", ALICE_ZH], 2),  # dropped tag: re-asked
        (["<m1>爱丽丝·史密斯</m1>在<m3>巴黎</m3的<m2>Acme公司</m2>工作。", ALICE_ZH], 2),  # broken tag
    ],
)
def test_faults_are_recovered_exactly(fake_openai, replies, requests):
    server = fake_openai({ALICE_TAGGED: replies})
    [out] = run_translator(server, [alice()])
    assert out["text"] == "爱丽丝·史密斯在巴黎的Acme公司工作。" and out["flags"] == []
    assert_projected(out, EXPECTED_ALICE)
    assert out["relations"][0]["head"]["text"] == "爱丽丝·史密斯" and out["relations"][0]["tail"]["text"] == "Acme公司"
    assert server.requests == requests and out["translation"]["attempts"] == 1 + (requests > 1 and not isinstance(replies[0], Reply))
    assert out["source_text"] == ALICE and out["source_id"] == "conll04-train-1" and out["id"] == "conll04_zh-train-1"


def test_retry_keeps_the_tagged_text_and_names_the_problem(fake_openai):
    server = fake_openai({ALICE_TAGGED: ["<m1>爱丽丝·史密斯</m1>在巴黎的<m2>Acme公司</m2>工作。", ALICE_ZH]})
    run_translator(server, [alice()])
    first, second = server.bodies
    assert first["messages"][1] == second["messages"][1] == {"role": "user", "content": ALICE_TAGGED}
    assert "<m3> missing" in second["messages"][0]["content"] and "<m3>" not in first["messages"][0]["content"]


def test_a_tag_still_missing_is_found_by_searching_the_mention_alone(fake_openai):
    dropped = "<m1>爱丽丝·史密斯</m1>在巴黎的<m2>Acme公司</m2>工作。"
    server = fake_openai({ALICE_TAGGED: dropped, "Paris": "巴黎。"})
    [out] = run_translator(server, [alice()])
    assert server.requests == 4  # 3 attempts, then the mention alone
    mention_request = server.bodies[-1]["messages"]
    assert is_mention_request(mention_request) and mention_request[1]["content"] == "Paris"
    assert ALICE not in json.dumps(mention_request) and ALICE_TAGGED not in json.dumps(mention_request)
    assert out["flags"] == ["projected_by_search"] and out["translation"]["attempts"] == 3
    assert_projected(out, EXPECTED_ALICE)


def test_a_mention_not_found_once_keeps_null_offsets_and_flags_the_record(fake_openai):
    reply = "<m1>爱丽丝·史密斯</m1>在巴黎的<m2>Acme公司</m2>工作，巴黎很美。"  # 巴黎 twice: ambiguous
    server = fake_openai({ALICE_TAGGED: reply, "Paris": "巴黎"})
    [out] = run_translator(server, [alice()])
    city = next(e for e in out["entities"] if e["type"] == "Loc")
    assert city["start"] is None and city["end"] is None and city["text"] == "巴黎"
    assert out["flags"] == ["projection_failed"]
    assert [e["text"] for e in out["entities"] if e["start"] is not None] == ["爱丽丝·史密斯", "Acme公司"]


def test_a_mention_answer_that_is_a_whole_sentence_is_not_searched(fake_openai):
    dropped = "<m1>爱丽丝·史密斯</m1>在巴黎的<m2>Acme公司</m2>工作。"
    server = fake_openai({ALICE_TAGGED: dropped, "Paris": "爱丽丝·史密斯在巴黎的Acme公司工作。"})
    [out] = run_translator(server, [alice()])
    city = next(e for e in out["entities"] if e["type"] == "Loc")
    assert city["start"] is None and out["flags"] == ["projection_failed"]


def test_a_refused_mention_request_is_cached_so_a_rerun_sends_nothing(fake_openai, tmp_path):
    dropped = "<m1>爱丽丝·史密斯</m1>在巴黎的<m2>Acme公司</m2>工作。"
    server = fake_openai({ALICE_TAGGED: dropped, "Paris": Reply.http(400)})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        [first] = run_translator(server, [alice()], cache)
        sent = server.requests
        [second] = run_translator(server, [alice()], cache)
    assert sent == 4 and server.requests == 4 and first == second and first["flags"] == ["projection_failed"]


def test_crossing_spans_use_the_fallback(fake_openai):
    text = "new york city hall"
    r = record(text, [{"type": "A", "text": "new york city", "start": 0, "end": 13},
                      {"type": "B", "text": "city hall", "start": 9, "end": 18}])
    server = fake_openai({"<m1>new york city</m1> hall": "<m1>纽约市</m1>市政厅", "city hall": "市政厅"})
    [out] = run_translator(server, [r])
    assert [(e["text"], e["start"], e["end"]) for e in out["entities"]] == [("纽约市", 0, 3), ("市政厅", 3, 6)]
    assert out["flags"] == ["projected_by_search"]


def test_failed_request_writes_translation_failed_and_a_rerun_retries_it(fake_openai, tmp_path):
    server = fake_openai({ALICE_TAGGED: Reply.http(500)})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        [failed] = run_translator(server, [alice()], cache, max_retries=1)
        assert failed["flags"] == ["translation_failed"] and failed["text"] is None and failed["entities"] == []
        assert "HTTP 500" in failed["translation"]["error"] and failed["source_text"] == ALICE
        assert len(cache) == 0
        server.table[ALICE_TAGGED] = ALICE_ZH
        [retried] = run_translator(server, [alice()], cache)
        assert retried["flags"] == [] and retried["text"] == "爱丽丝·史密斯在巴黎的Acme公司工作。"


def test_empty_replies_are_a_failed_translation(fake_openai):
    server = fake_openai({ALICE_TAGGED: ["", "```\n```", "  "]})
    [out] = run_translator(server, [alice()])
    assert out["flags"] == ["translation_failed"] and out["translation"]["error"] == "empty translation in 3 replies"
    assert server.requests == 3


def test_rerun_sends_no_request_and_gives_the_same_records(fake_openai, tmp_path):
    dropped = "<m1>爱丽丝·史密斯</m1>在巴黎的<m2>Acme公司</m2>工作。"
    server = fake_openai({ALICE_TAGGED: [dropped, ALICE_ZH], "Paris": "巴黎"})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        first = run_translator(server, [alice()], cache)
        sent = server.requests
        second = run_translator(server, [alice()], cache)
    assert sent == 2 and server.requests == 2
    assert first == second and first[0]["translation"]["attempts"] == 2


# ------------------------------------------------------------------------------------ command line
def conll04_raw(root, sentences: list, dev: int = 3) -> None:
    """``root/conll04/`` in SpERT's format: one JSON array per split, token offsets."""
    folder = root / "conll04"
    folder.mkdir(parents=True)
    records = []
    for i, (tokens, entities, relations) in enumerate(sentences):
        records.append({"tokens": tokens, "entities": [{"type": t, "start": s, "end": e} for t, s, e in entities],
                        "relations": [{"type": t, "head": h, "tail": tl} for t, h, tl in relations], "orig_id": i})
    (folder / "conll04_train.json").write_text(json.dumps(records[: len(records) - dev]), encoding="utf-8")
    (folder / "conll04_dev.json").write_text(json.dumps(records[len(records) - dev :]), encoding="utf-8")
    types = {"entities": {t: {"short": t, "verbose": t} for t in ("Peop", "Org", "Loc", "Other")},
             "relations": {t: {"short": t, "verbose": t, "symmetric": False} for t in ("Work_For", "Live_In")}}
    (folder / "conll04_types.json").write_text(json.dumps(types), encoding="utf-8")


def uppercase_translation(messages) -> Reply:
    """A stand-in translator: the tagged text with every letter outside the tags upper-cased, slowly."""
    content = messages[-1]["content"]
    reply = re.sub(r"(<[^>]+>)|([^<]+)", lambda m: m.group(1) or m.group(2).upper(), content)
    return Reply.slow(reply, 0.05)


def sentences(n: int) -> list:
    out = []
    for i in range(n):
        tokens = f"Person{i} Smith works for Company{i} in City{i} .".split()
        out.append((tokens, [("Peop", 0, 2), ("Org", 4, 5), ("Loc", 6, 7)], [("Work_For", 0, 1)]))
    return out


def test_cli_translates_every_record_concurrently_and_reruns_from_the_cache(fake_openai, tmp_path, capsys):
    raw = tmp_path / "raw"
    conll04_raw(raw, sentences(27))
    server = fake_openai(uppercase_translation)
    argv = ["translate", "--data-dir", str(raw), "--corpus", "conll04", "--endpoint", server.base_url,
            "--model", "fake-model", "--concurrency", "8", "--no-progress"]
    assert main(argv) == 0
    assert server.max_in_flight >= 4 and server.requests == 27
    out = raw / "conll04_zh"
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["source_id"] for r in rows] == [f"conll04-train-{i}" for i in range(1, 25)]
    assert [r["id"] for r in rows] == [f"conll04_zh-train-{i}" for i in range(1, 25)]
    for row in rows:
        assert row["text"] == row["source_text"].upper() and row["flags"] == []
        for e in row["entities"]:
            assert row["text"][e["start"]:e["end"]] == e["text"] and e["text"].isupper()
    assert len((out / "validation.jsonl").read_text().splitlines()) == 3
    schema = json.loads((out / "schema.json").read_text(encoding="utf-8"))
    from builders.conll04 import CORPUS

    assert schema["source"] == "conll04" and ["Work_For", CORPUS.labels_zh["Work_For"]] in schema["types"]
    server.reset_counts()
    assert main(argv) == 0
    assert server.requests == 0
    assert "(0 requests sent)" in capsys.readouterr().out


def test_cli_limit_split_and_out(fake_openai, tmp_path):
    raw = tmp_path / "raw"
    conll04_raw(raw, sentences(13))
    server = fake_openai(uppercase_translation)
    assert main(["translate", "--data-dir", str(raw), "--corpus", "conll04", "--split", "train", "--limit", "4",
                 "--endpoint", server.base_url, "--model", "fake-model", "--out", str(tmp_path / "t"),
                 "--cache", str(tmp_path / "c.sqlite"), "--no-progress"]) == 0
    assert len((tmp_path / "t/conll04_zh/train.jsonl").read_text().splitlines()) == 4
    assert not (tmp_path / "t/conll04_zh/validation.jsonl").exists() and (tmp_path / "c.sqlite").exists()


def test_cli_one_line_errors(fake_openai, tmp_path, capsys):
    raw = tmp_path / "raw"
    conll04_raw(raw, sentences(5))
    server = fake_openai(uppercase_translation, models=("served",))
    base = ["translate", "--data-dir", str(raw), "--corpus", "conll04", "--no-progress"]
    assert main(base + ["--endpoint", server.base_url, "--model", "other"]) == 2
    assert main(base + ["--endpoint", free_port_url(), "--model", "served"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[0].startswith("chinchilla translate: model 'other' is not served")
    assert errors[1].startswith("chinchilla translate: cannot reach http://127.0.0.1:")
    assert len(errors) == 2 and server.requests == 0


def test_interrupted_run_resumes_from_the_cache(fake_openai, tmp_path):
    """SIGINT mid-run (as Ctrl-C): the answers accepted so far are committed, the rerun asks only the rest."""
    import signal
    import subprocess
    import sys
    import time

    raw = tmp_path / "raw"
    conll04_raw(raw, sentences(43))  # train 40, validation 3
    server = fake_openai(lambda messages: Reply.slow(uppercase_translation(messages).text, 0.1))
    argv = [sys.executable, "-m", "chinchilla_datasets.cli", "translate", "--data-dir", str(raw), "--corpus", "conll04",
            "--endpoint", server.base_url, "--model", "fake-model", "--concurrency", "2", "--no-progress"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while server.requests < 10 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    first = server.requests
    assert 10 <= first < 43 and not (raw / "conll04_zh" / "train.jsonl").exists()
    server.reset_counts()
    assert main(argv[3:]) == 0
    assert server.requests <= 43 - first + 2  # at most the requests in flight at the interruption are asked again
    rows = (raw / "conll04_zh" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 40 and all(json.loads(row)["flags"] == [] for row in rows)


def test_benchmark_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_translate.py"  # -> benchmarks/translate.py
    out = subprocess.run([sys.executable, str(script), "--records", "300", "--concurrency", "16", "--json"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["records"] == 300 and result["requests"] == 300 and result["records_per_second"] > 0



def test_cli_refused_key_is_one_line_and_never_printed(fake_openai, tmp_path, capsys, monkeypatch):
    raw = tmp_path / "raw"
    conll04_raw(raw, sentences(5))
    server = fake_openai(uppercase_translation, api_key="sk-right-key")
    monkeypatch.setenv("MY_KEY", "sk-WRONG-secret-123")
    argv = ["translate", "--data-dir", str(raw), "--corpus", "conll04", "--endpoint", server.base_url,
            "--model", "fake-model", "--api-key-env", "MY_KEY", "--no-progress"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"chinchilla translate: {server.base_url} refused the credentials (HTTP 401); "
                                    "set the API key in $MY_KEY")
    assert "sk-WRONG" not in captured.out + captured.err and server.requests == 0
    monkeypatch.setenv("MY_KEY", "sk-right-key")
    assert main(argv) == 0 and server.requests == 5
