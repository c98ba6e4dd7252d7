"""What `edenfake record` costs per request: the same requests sent straight to an upstream and through the
recording proxy in front of it, interleaved in one run (direct, proxied, direct, ...), so both see the same
machine at the same moment. The upstream is `edenfake serve` (a stand-in for the real service: answers in a few
milliseconds, where the real one takes seconds); the proxy records every exchange into a temporary cassette.

    .venv/bin/python bench/record_overhead.py [--requests 200] [--quick]

Prints, per kind of answer, the median and p90 latency of each path, the overhead per request and the ratio,
and writes them to bench/results/record_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
AUTH = {"Authorization": "Bearer bench-token"}
#: a base64 answer (two 1024x1024 PNGs), and a URL answer (the proxy fetches and keeps the image too)
KINDS = {
    "b64_json": {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "n": 2, "quality": "low"},
    "url": {"model": "openai/dall-e-2", "prompt": "a boat", "size": "512x512"},
}


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edenfake", *args, "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r" at (http://127\.0\.0\.1:\d+) ", line)
    if not match:
        proc.kill()
        raise SystemExit(f"could not start edenfake {args[0]}: {line!r}")
    if args[0] == "record":
        # the proxy prints a line per recorded exchange: drain it so that a full pipe never blocks the proxy
        subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
    return proc, match.group(1)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(requests: int) -> dict[str, Any]:
    cassette = Path(tempfile.mkdtemp(prefix="edenfake-bench-")) / "cassette"
    upstream, upstream_url = _start("serve", "--clock", "1779792103")
    proxy, proxy_url = _start("record", "--upstream", upstream_url, "--cassette", str(cassette))
    results: dict[str, Any] = {}
    try:
        with httpx.Client(headers=AUTH, timeout=30) as direct, httpx.Client(headers=AUTH, timeout=30) as proxied:
            for kind, body in KINDS.items():
                times: dict[str, list[float]] = {"direct": [], "proxied": []}
                paths = [("direct", direct, upstream_url), ("proxied", proxied, proxy_url)]
                for _ in range(10):  # warm both paths: connections, caches, the cassette's files
                    for _, client, base in paths:
                        client.post(base + "/v3/images/generations", json=body).raise_for_status()
                for i in range(requests):
                    for name, client, base in paths if i % 2 == 0 else paths[::-1]:
                        started = time.perf_counter()
                        answer = client.post(base + "/v3/images/generations", json=body)
                        times[name].append(time.perf_counter() - started)
                        answer.raise_for_status()
                direct_median = statistics.median(times["direct"])
                proxied_median = statistics.median(times["proxied"])
                results[kind] = {
                    "answer_bytes": len(answer.content),
                    "direct_median_ms": round(direct_median * 1000, 3),
                    "direct_p90_ms": round(_percentile(times["direct"], 0.9) * 1000, 3),
                    "proxied_median_ms": round(proxied_median * 1000, 3),
                    "proxied_p90_ms": round(_percentile(times["proxied"], 0.9) * 1000, 3),
                    "overhead_ms": round((proxied_median - direct_median) * 1000, 3),
                    "ratio": round(proxied_median / direct_median, 2),
                }
        lines = (cassette / "exchanges.jsonl").read_text().splitlines()
        results["recorded_exchanges"] = len(lines)
    finally:
        for proc in (proxy, upstream):
            proc.terminate()
            proc.wait(10)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per path and kind (default 200)")
    parser.add_argument("--quick", action="store_true", help="20 requests: a smoke run")
    args = parser.parse_args()
    requests = 20 if args.quick else args.requests
    results = measure(requests)
    print(f"edenfake record overhead: {requests} requests per path and kind, interleaved, on 127.0.0.1")
    print(f"{'answer':<9} {'bytes':>8} {'direct ms':>10} {'proxied ms':>11} {'overhead ms':>12} {'ratio':>6}")
    for kind in KINDS:
        r = results[kind]
        print(
            f"{kind:<9} {r['answer_bytes']:>8} {r['direct_median_ms']:>10.2f} {r['proxied_median_ms']:>11.2f} "
            f"{r['overhead_ms']:>12.2f} {r['ratio']:>5.2f}x"
        )
    print(f"(medians; {results['recorded_exchanges']} exchanges recorded, warm-up included)")
    out = ROOT / "bench" / "results" / "record_overhead.json"
    out.parent.mkdir(exist_ok=True)
    document = {"requests": requests, "python": platform.python_version(), "machine": platform.machine(), **results}
    out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
