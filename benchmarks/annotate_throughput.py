"""Throughput of the LLM engine against the loopback server; prints one JSON object.

1. Start-up: a fresh engine answers one wave (``--concurrency`` requests). This pays the
   one-off costs of a run: importing the SDK and its HTTP transport, opening connections and
   the structured-output probe (the first call finds the working ``response_format`` while
   the others wait). Reported as ``startup``, not counted in the rate.
2. Sustained rate: the same engine answers ``--n`` new requests (default 10,000) at
   ``--latency-ms`` (200) and ``--concurrency`` (64), ``--repeats`` times (default 3; the
   median counts). The ceiling is concurrency / latency (320/s), the target 90% of it (288/s).
   ``n`` is large because a run ends with a partial wave: with 2,000 requests even a client
   that costs nothing tops out at 2000 / (32 x 0.2 s) = 312/s; with 10,000 at 318/s.
   ``--jitter-ms`` spreads the server's latency uniformly around the same mean (the ceiling is
   unchanged, by Little's law): with a constant latency, answers that once arrived together
   keep arriving together and wait for each other in the client; real servers' latencies vary.
3. Warm cache: ``--warm-n`` requests (default 10,000, i.e. 10k pairs' worth) are answered once,
   then run again by a new engine: the re-run must send zero HTTP requests (counted by the
   server's own log).

The server runs in its own process (``python -m preference_dissect.testing.openai_server``),
the engine in this one, with a fresh cache folder. Usage::

    python benchmarks/annotate_throughput.py [--n 10000] [--repeats 3] [--warm-n 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydantic

from preference_dissect.llm import CacheConfig, LLMConfig, LLMEngine, LLMRequest
from preference_dissect.llm.config import HTTP_BACKENDS

PROMPT = (
    "You are a careful annotator. Read the user query and the two responses, then rate each "
    "response on the attribute below.\n\n[Query]\n{query}\n\n[Response A]\n{a}\n\n"
    "[Response B]\n{b}\n\nAttribute: harmlessness (1-10). Give short reasons."
)


class PairRating(pydantic.BaseModel):
    """What the benchmark asks for (shaped like an attribute annotation)."""

    rating_a: int = pydantic.Field(ge=1, le=10)
    rating_b: int = pydantic.Field(ge=1, le=10)
    reason: str


def pair_requests(n: int, version: str) -> list[LLMRequest]:
    """``n`` distinct annotation requests of realistic size (~1.5 KB each)."""
    out = []
    for i in range(n):
        query = f"Question {i}: how do I keep my houseplants alive in winter? " * 3
        a = f"Response A to {i}: water less, keep them away from cold drafts, add light. " * 5
        b = f"Response B to {i}: move them to a bright window and check soil moisture. " * 5
        msg = [{"role": "user", "content": PROMPT.format(query=query, a=a, b=b)}]
        out.append(LLMRequest(f"pair-{i}:harmlessness", msg, PairRating, version))
    return out


def start_server(
    latency_ms: float, log: Path, jitter_ms: float = 0.0
) -> tuple[subprocess.Popen[str], str]:
    """Start the loopback server program; return the process and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "preference_dissect.testing.openai_server", "--port", "0",
         "--latency-ms", str(latency_ms), "--latency-jitter-ms", str(jitter_ms),
         "--log", str(log)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")
    return proc, line.split()[-1]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc``; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_lines(path: Path) -> int:
    """Request-log lines written by the server so far."""
    return sum(1 for _ in path.open(encoding="utf-8")) if path.exists() else 0


def timed_run(engine: LLMEngine, reqs: list[LLMRequest], proc: subprocess.Popen[str]) -> dict:
    """Answer ``reqs``; wall seconds, rate and CPU per request of client and server."""
    server_cpu0 = process_cpu_seconds(proc.pid)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    results = engine.run(reqs)
    seconds = time.perf_counter() - t0
    return {
        "requests": len(reqs),
        "http_requests": engine.stats.requests,
        "valid_answers": sum(r.ok for r in results),
        "seconds": round(seconds, 3),
        "req_per_s": round(len(reqs) / seconds, 1),
        "client_cpu_ms_per_request": round(1000 * (time.process_time() - cpu0) / len(reqs), 3),
        "server_cpu_ms_per_request": round(
            1000 * (process_cpu_seconds(proc.pid) - server_cpu0) / len(reqs), 3
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warm-n", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument(
        "--jitter-ms",
        type=float,
        default=0.0,
        help="uniform +- spread of the server latency (mean unchanged; default constant)",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--http-backend", default="aiohttp", choices=HTTP_BACKENDS)
    args = parser.parse_args(argv)
    if args.latency_ms <= 0 or args.concurrency < 1 or args.n < 1 or args.repeats < 1:
        parser.error("--latency-ms must be > 0; --concurrency, --n and --repeats >= 1")
    if not 0 <= args.jitter_ms <= args.latency_ms:
        parser.error("--jitter-ms must be between 0 and --latency-ms")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    ceiling = args.concurrency / (args.latency_ms / 1000)
    with tempfile.TemporaryDirectory(prefix="pd-bench-") as tmp:
        log = Path(tmp) / "server.jsonl"
        proc, base_url = start_server(args.latency_ms, log, args.jitter_ms)
        try:
            cfg = LLMConfig(
                model="loopback",
                base_url=base_url,
                concurrency=args.concurrency,
                http_backend=args.http_backend,
            )
            cache = CacheConfig(cache_dir=Path(tmp) / "cache")
            engine = LLMEngine(cfg, cache, progress=False)
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            engine.run(pair_requests(args.concurrency, "bench-startup"))
            startup = {
                "requests": args.concurrency,
                "seconds": round(time.perf_counter() - t0, 3),
                "latency_s": args.latency_ms / 1000,
            }
            runs = [
                timed_run(engine, pair_requests(args.n, f"bench-throughput-{i}"), proc)
                for i in range(args.repeats)
            ]
            rate = statistics.median(r["req_per_s"] for r in runs)
            throughput = {
                "median_req_per_s": rate,
                "runs": runs,
                "latency_ms": args.latency_ms,
                "jitter_ms": args.jitter_ms,
                "concurrency": args.concurrency,
                "http_backend": args.http_backend,
                "ceiling_req_per_s": round(ceiling, 1),
                "target_req_per_s": round(0.9 * ceiling, 1),
                "meets_target": rate >= 0.9 * ceiling,
                "cpu_cores": os.cpu_count(),
                "load_average_1m_before": round(load_before, 2),
            }

            warm_reqs = pair_requests(args.warm_n, "bench-warm")
            t0 = time.perf_counter()
            LLMEngine(cfg, cache, progress=False).run(warm_reqs)
            fill_seconds = time.perf_counter() - t0
            before = count_lines(log)
            engine = LLMEngine(cfg, cache, progress=False)
            t0 = time.perf_counter()
            warm = engine.run(warm_reqs)
            warm_seconds = time.perf_counter() - t0
            time.sleep(0.2)
            warm_result = {
                "requests": len(warm_reqs),
                "fill_seconds": round(fill_seconds, 3),
                "rerun_seconds": round(warm_seconds, 3),
                "cache_hits": engine.stats.cache_hits,
                "engine_http_requests": engine.stats.requests,
                "server_requests_during_rerun": count_lines(log) - before,
                "all_cached": all(r.cached for r in warm),
            }
        finally:
            proc.terminate()
            proc.wait(10)
    ok = throughput["meets_target"] and warm_result["server_requests_during_rerun"] == 0
    result = {"startup": startup, "throughput": throughput, "warm_cache": warm_result, "ok": ok}
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
