"""``chinchilla predict`` against the fake OpenAI-compatible server: the prompt the exports carry,
answers that score F1 = 1.0, requests in flight, and runs that resume after an interruption."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from chinchilla_datasets.cli import main
from chinchilla_datasets.parquet_io import iter_split
from chinchilla_datasets.exports import SYSTEM_PROMPT, prompt_of
from chinchilla_datasets.llm import ChatClient
from chinchilla_datasets.predict import predict_rows
from fake_openai import Reply, fake_openai  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
SPLIT = "validation"


def gold_table(rows: list, delay: float = 0.0):
    """A fake-server table answering each prompt with its row's gold output (slowly, if ``delay``)."""
    by_prompt = {}
    for row in rows:
        assert by_prompt.setdefault(prompt_of(row), row["output"]) == row["output"], "two rows share a prompt but not an answer"

    def answer(messages):
        assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT} and messages[1]["role"] == "user"
        text = by_prompt[messages[1]["content"]]
        return Reply.slow(text, delay) if delay else text

    return answer


def lines_of(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def asked_prompts(server) -> list:
    return [body["messages"][-1]["content"] for body in server.bodies]


def predict_args(data: Path, config: str, server, out: Path, *extra: str) -> list:
    return ["predict", "--data", str(data), "--config", config, "--split", SPLIT, "--endpoint", server.base_url,
            "--model", server.models[0], "--out", str(out), *extra]


def f1_of(capsys, data: Path, config: str, predictions: Path) -> dict:
    capsys.readouterr()
    assert main(["score", "--predictions", str(predictions), "--data", str(data), "--config", config, "--split", SPLIT, "--json"]) == 0
    return json.loads(capsys.readouterr().out)["overall"]


@pytest.mark.parametrize("config", ["duie_instruct", "duee_instruct", "weibo_ner_instruct"])
def test_gold_answers_from_the_endpoint_score_f1_one_with_requests_in_flight(loop_build, fake_openai, tmp_path, capsys, config):
    rows = list(iter_split(str(loop_build), config, SPLIT))
    server = fake_openai(gold_table(rows, delay=0.005))
    out = tmp_path / "preds.jsonl"
    assert main(predict_args(loop_build, config, server, out, "--concurrency", "8")) == 0
    assert server.max_in_flight >= 4
    assert server.requests == len(rows)
    assert sorted(line["id"] for line in lines_of(out)) == sorted(row["id"] for row in rows)
    overall = f1_of(capsys, loop_build, config, out)
    assert overall["f1"] == 1.0 and overall["gold"] > 0


def test_limit_and_the_api_key_from_the_named_variable(loop_build, fake_openai, tmp_path, monkeypatch):
    config = "weibo_ner_instruct"
    rows = list(iter_split(str(loop_build), config, SPLIT))
    server = fake_openai(gold_table(rows))
    monkeypatch.setenv("LOOP_TEST_KEY", "sk-loop-test")
    out = tmp_path / "preds.jsonl"
    assert main(predict_args(loop_build, config, server, out, "--limit", "7", "--api-key-env", "LOOP_TEST_KEY")) == 0
    assert [line["id"] for line in lines_of(out)] != [] and sorted(line["id"] for line in lines_of(out)) == sorted(r["id"] for r in rows[:7])
    assert set(server.authorizations) == {"Bearer sk-loop-test"}


def test_a_killed_run_resumes_without_asking_answered_rows_again(loop_build, fake_openai, tmp_path, capsys):
    config = "duee_instruct"
    rows = list(iter_split(str(loop_build), config, SPLIT))[:400]
    server = fake_openai(gold_table(rows, delay=0.02))
    out = tmp_path / "preds.jsonl"
    args = predict_args(loop_build, config, server, out, "--concurrency", "4", "--limit", str(len(rows)))
    proc = subprocess.Popen([sys.executable, "-m", "chinchilla_datasets.cli", *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and (not out.exists() or out.read_text(encoding="utf-8").count("\n") < 100):
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    kept = {line["id"] for line in lines_of(out)}
    assert 100 <= len(kept) < len(rows), "the run was not killed halfway"
    prompt_of_id = {row["id"]: prompt_of(row) for row in rows}

    server.reset_counts()
    assert main(args) == 0
    # exactly the unanswered rows were asked (compared as prompts: rows may share one)
    assert Counter(asked_prompts(server)) == Counter(prompt_of_id[r["id"]] for r in rows if r["id"] not in kept)
    ids = [line["id"] for line in lines_of(out)]
    assert len(ids) == len(set(ids)) == len(rows)
    assert "already in" in capsys.readouterr().out


class Interrupted(Exception):
    pass


class FailingAfter(ChatClient):
    """The shared client, interrupted (an exception) once it has had ``n`` answers."""

    def __init__(self, *args, n: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.n, self.answers = n, 0

    async def chat(self, messages, **params):
        if self.answers >= self.n:
            raise Interrupted
        answer = await super().chat(messages, **params)
        self.answers += 1
        return answer


def test_an_interrupted_run_resumes_and_a_cut_off_last_line_is_asked_again(loop_build, fake_openai, tmp_path, capsys):
    config = "weibo_ner_instruct"
    rows = list(iter_split(str(loop_build), config, SPLIT))
    server = fake_openai(gold_table(rows))
    out = tmp_path / "preds.jsonl"

    async def interrupted():
        async with FailingAfter(server.base_url, server.models[0], concurrency=4, n=150) as client:
            await predict_rows(rows, str(out), client, progress=False)

    with pytest.raises(Interrupted):
        asyncio.run(interrupted())
    written = lines_of(out)
    assert 150 <= len(written) < 150 + 4  # the answers before the interruption, and those in flight then
    # the interruption also cut the last line in half
    text = out.read_text(encoding="utf-8")
    out.write_text(text + json.dumps({"id": "weibo_ner-validation-9999#ner0", "output": "{}"})[:25], encoding="utf-8")
    answered = {line["id"] for line in written}

    server.reset_counts()
    assert main(predict_args(loop_build, config, server, out)) == 0
    assert Counter(asked_prompts(server)) == Counter(prompt_of(r) for r in rows if r["id"] not in answered)
    assert f1_of(capsys, loop_build, config, out)["f1"] == 1.0


def test_an_out_file_of_another_split_stops_the_run(loop_build, fake_openai, tmp_path, capsys):
    rows = list(iter_split(str(loop_build), "weibo_ner_instruct", SPLIT))
    server = fake_openai(gold_table(rows))
    out = tmp_path / "preds.jsonl"
    out.write_text(json.dumps({"id": "duie-validation-1#re0", "output": "{}"}) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(predict_args(loop_build, "weibo_ner_instruct", server, out)) == 2
    assert "preds.jsonl:1: id 'duie-validation-1#re0' is not a row of this split" in capsys.readouterr().err
    assert server.requests == 0


def test_a_row_that_fails_for_good_is_counted_and_asked_by_the_next_run(loop_build, fake_openai, tmp_path, capsys):
    config = "weibo_ner_instruct"
    rows = list(iter_split(str(loop_build), config, SPLIT))[:20]
    gold = gold_table(rows)
    bad = prompt_of(rows[3])
    broken = {"on": True}

    def table(messages):
        if broken["on"] and messages[1]["content"] == bad:
            return Reply.http(400)  # not retryable: fails for good
        return gold(messages)

    server = fake_openai(table)
    out = tmp_path / "preds.jsonl"
    capsys.readouterr()
    assert main(predict_args(loop_build, config, server, out, "--limit", "20")) == 1
    assert "1 failed after retries" in capsys.readouterr().out
    assert rows[3]["id"] not in {line["id"] for line in lines_of(out)}
    broken["on"] = False
    server.reset_counts()
    assert main(predict_args(loop_build, config, server, out, "--limit", "20")) == 0
    assert asked_prompts(server) == [bad]


def test_an_unreachable_endpoint_is_one_line(loop_build, tmp_path, capsys):
    from fake_openai import free_port_url

    capsys.readouterr()
    args = ["predict", "--data", str(loop_build), "--config", "weibo_ner_instruct", "--endpoint", free_port_url(), "--model", "m",
            "--out", str(tmp_path / "p.jsonl"), "--max-retries", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("chinchilla predict: cannot reach") and "Traceback" not in err


def test_refused_credentials_stop_the_run_at_once(loop_build, fake_openai, tmp_path, capsys):
    server = fake_openai(lambda messages: Reply.http(401))
    out = tmp_path / "p.jsonl"
    capsys.readouterr()
    assert main(predict_args(loop_build, "weibo_ner_instruct", server, out, "--api-key-env", "LOOP_TEST_NO_SUCH_KEY", "--concurrency", "2")) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("chinchilla predict: ") and "refused the credentials" in last and "$LOOP_TEST_NO_SUCH_KEY" in last
    assert "Traceback" not in err
    assert server.requests <= 10 and (not out.exists() or not out.read_text(encoding="utf-8").strip())
