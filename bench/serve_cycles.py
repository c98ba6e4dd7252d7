"""What a served fake costs a test that starts one: ``edenfake.serve()`` entered, one request, left.

    python bench/serve_cycles.py                       # this checkout, 7 rounds of 10 cycles
    python bench/serve_cycles.py --old /tmp/old-rev    # and an older checkout's, rounds interleaved

Each round runs in a process of its own (imports paid once, before the clock starts): ten cycles of entering
``edenfake.serve()``, one ``GET /healthz`` over a kept-alive httpx connection, and leaving the block (which
stops the server). Figures: the median seconds of a cycle, and of its stop alone; with ``--old``, the ratio of
this checkout's to the older one's, round by round. Writes ``bench/results/serve_cycles.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from _harness import ROOT, record, spread, write_results

CYCLE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import httpx, edenfake
cycles, stops = [], []
with httpx.Client() as client:
    for _ in range(int(sys.argv[2])):
        started = time.perf_counter()
        with edenfake.serve() as server:
            client.get(server.url + "/healthz").raise_for_status()
            stopping = time.perf_counter()
        stops.append(time.perf_counter() - stopping)
        cycles.append(time.perf_counter() - started)
print(json.dumps({"cycle": sorted(cycles)[len(cycles) // 2], "stop": sorted(stops)[len(stops) // 2]}))
"""


def _round(checkout: Path, cycles: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CYCLE, str(checkout), str(cycles)], capture_output=True, text=True, check=True
    )
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="an older checkout, measured in the same run")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    sides = {"this": ROOT, **({"old": args.old.resolve()} if args.old else {})}
    seen: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for _ in range(args.rounds):
        for side, checkout in sides.items():  # A B A B: the machine's drift is shared by both
            seen[side].append(_round(checkout, args.cycles))
    for side in sides:
        for figure in ("cycle", "stop"):
            values = [r[figure] for r in seen[side]]
            record("serve", f"{side}: serve() {figure}", statistics.median(values), "s", None, spread=spread(values))
    if args.old:
        for figure in ("cycle", "stop"):
            ratios = [a[figure] / b[figure] for a, b in zip(seen["this"], seen["old"], strict=True)]
            record("serve", f"this / old: {figure}", statistics.median(ratios), "x", None, spread=spread(ratios))
    print(f"# written {write_results('serve_cycles', rounds=args.rounds, cycles=args.cycles)}")


if __name__ == "__main__":
    main()
