"""Benchmark of ``chinchilla translate``'s client side: records/s against an instant local endpoint.

    python3 scripts/bench_translate.py [--records 20000] [--concurrency 64] [--json]
    (or python3 -m benchmarks.translate …)

An "instant" OpenAI-compatible endpoint runs in a child process (a bare asyncio HTTP/1.1 server that
answers every chat request at once by echoing the tagged user message, so every reply is a valid
translation with all its tags). The measured loop is the one ``chinchilla translate`` runs for a
split: tag each record, one request, strip and parse the reply, project the spans, write the answer
to the SQLite cache and the record to the JSON Lines file. Synthetic NER/RE records, three spans
each. The server's own CPU is part of the figure (both share the machine), so the client's own
ceiling is higher than what is printed. A second pass over the same records measures the cached
rerun (no request).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


# ------------------------------------------------------------------------------ the instant endpoint
def serve(port: int) -> None:
    """An OpenAI-compatible endpoint that answers each chat request instantly with its user message."""

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while True:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buffer[:head_end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if len(self.buffer) < head_end + 4 + length:
                    return
                body, self.buffer = self.buffer[head_end + 4 : head_end + 4 + length], self.buffer[head_end + 4 + length :]
                if head.startswith("GET"):
                    payload = json.dumps({"object": "list", "data": [{"id": "bench-model", "object": "model"}]}).encode()
                else:
                    content = json.loads(body)["messages"][-1]["content"]
                    payload = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]},
                                         ensure_ascii=False).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                     % (len(payload), payload))

    async def main():
        server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------ the measured loop
def synthetic_records(n: int) -> list:
    records = []
    for i in range(n):
        person, org, city = f"Person{i} Smith", f"Company{i}", f"City{i}"
        text = f"{person} works for {org} in {city} since {2000 + i % 25} ."
        entities = [{"type": t, "text": m, "start": text.index(m), "end": text.index(m) + len(m)}
                    for t, m in (("Peop", person), ("Org", org), ("Loc", city))]
        records.append({"id": f"bench-train-{i + 1}", "corpus": "bench", "task": "RE", "text": text, "entities": entities,
                        "relations": [{"type": "Work_For", "head": dict(entities[0]), "tail": dict(entities[1]), "qualifiers": []}],
                        "events": [], "flags": []})
    return records


def run(url: str, records: list, concurrency: int, scratch: Path) -> dict:
    from chinchilla_datasets.llm import ChatClient, ResponseCache
    from chinchilla_datasets.translate import Translator, _translate_splits

    async def once(out_dir: Path) -> tuple:
        async with ChatClient(url, "bench-model", concurrency=concurrency, api_key_env="CHINCHILLA_BENCH_NO_KEY") as client:
            await client.check()
            with ResponseCache(scratch / "cache.sqlite") as cache:
                translator = Translator(client, cache)
                started, cpu_started = time.perf_counter(), time.process_time()
                counts = await _translate_splits(translator, "bench", {"train": records}, out_dir, concurrency,
                                                 progress=False, log=lambda _: None)
                counts["train"]["client_cpu_seconds"] = time.process_time() - cpu_started
                return time.perf_counter() - started, counts["train"], client.requests_sent

    first_dir, second_dir = scratch / "first", scratch / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    seconds, counts, requests = asyncio.run(once(first_dir))
    cached_seconds, cached_counts, cached_requests = asyncio.run(once(second_dir))
    assert counts["records"] == len(records) and counts["translation_failed"] == 0 and counts["projection_failed"] == 0
    assert cached_requests == 0 and cached_counts["cached"] == len(records)
    return {
        "records": len(records),
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "records_per_second": round(len(records) / seconds),
        "requests": requests,
        # CPU time of this process (the client) per record: its own cost, whatever else runs on the machine.
        "client_cpu_us_per_record": round(counts["client_cpu_seconds"] / len(records) * 1e6),
        "client_records_per_cpu_second": round(len(records) / counts["client_cpu_seconds"]),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cached_rerun_seconds": round(cached_seconds, 3),
        "cached_rerun_records_per_second": round(len(records) / cached_seconds),
        "cpus": os.cpu_count(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        for _ in range(100):  # wait until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        with tempfile.TemporaryDirectory(prefix="chinchilla-bench-translate-") as scratch:
            result = run(f"http://127.0.0.1:{port}/v1", synthetic_records(args.records), args.concurrency, Path(scratch))
    finally:
        server.terminate()
        server.wait(timeout=10)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"translate client: {result['records_per_second']:,} records/s ({result['records']:,} records, "
              f"concurrency {result['concurrency']}, {result['seconds']} s, cache and JSONL writes included); "
              f"client CPU {result['client_cpu_us_per_record']} µs/record ({result['client_records_per_cpu_second']:,} "
              f"records per CPU-second); cached rerun: {result['cached_rerun_records_per_second']:,} records/s, "
              f"0 requests; load average {result['load_average_1min']} on {result['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
