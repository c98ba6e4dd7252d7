"""A consumer's cost per test: the same one-call tests through the ``edenfake`` fixture and through
pytest-httpx answering a constant body (a real answer of the fake), as whole pytest runs, A B A B.

    python bench/consumer_cost.py                   # 300 tests a side, 7 pairs of runs
    python bench/consumer_cost.py --tests 100 --pairs 3
    python bench/consumer_cost.py --prompts same    # every test sends the same request
    python bench/consumer_cost.py --profile /tmp/fixture.prof   # and cProfile one edenfake run

Each side loads only its own plugin (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, then -p edenfake.plugin or
-p pytest_httpx), so other installed plugins weigh on neither. A run's time is its wall time from start to
exit, pytest's start-up included; the ratio is taken pair by pair and the median quoted with its spread.
Needs the bench extra (pytest-httpx). Writes bench/results/consumer_cost.json; makes no network call.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import AUTH, record, spread, write_results

URL = "https://api.edenai.run/v3/images/generations"
BODY = {"model": "openai/gpt-image-1", "size": "1024x1024", "quality": "low"}

EDENFAKE_TESTS = """
import httpx

BODY = {body!r}
# One client for the module, as an application under test would keep (a client per call would time TLS set-up)
CLIENT = httpx.Client(headers={headers!r})

for _i in range({tests}):
    def _test(edenfake, _i=_i):
        answer = CLIENT.post({url!r}, json={{**BODY, "prompt": {prompt}}})
        assert answer.status_code == 200 and answer.json()["data"][0]["b64_json"]
    globals()[f"test_{{_i}}"] = _test
"""

PYTEST_HTTPX_TESTS = """
import pathlib

import httpx

BODY = {body!r}
# One client for the module, as an application under test would keep (a client per call would time TLS set-up)
CLIENT = httpx.Client(headers={headers!r})
ANSWER = (pathlib.Path(__file__).parent.parent / "answer.json").read_bytes()

for _i in range({tests}):
    def _test(httpx_mock, _i=_i):
        httpx_mock.add_response(url={url!r}, method="POST", content=ANSWER,
                                headers={{"content-type": "application/json"}})
        answer = CLIENT.post({url!r}, json={{**BODY, "prompt": {prompt}}})
        assert answer.status_code == 200 and answer.json()["data"][0]["b64_json"]
    globals()[f"test_{{_i}}"] = _test
"""


def _suite(root: Path, tests: int, same: bool) -> None:
    import httpx

    import edenfake

    prompt = '"a red fox in the snow"' if same else 'f"a red fox in the snow, test {_i}"'
    with edenfake.mock(clock=1):
        answer = httpx.post(URL, json={**BODY, "prompt": "a red fox in the snow, test 0"}, headers=AUTH).content
    (root / "answer.json").write_bytes(answer)
    fields = {"body": BODY, "headers": AUTH, "tests": tests, "url": URL, "prompt": prompt}
    for name, template in (("edenfake", EDENFAKE_TESTS), ("pytest_httpx", PYTEST_HTTPX_TESTS)):
        (root / name).mkdir()
        (root / name / f"test_{name}.py").write_text(template.format(**fields))


def _command(side: str, profile: str | None = None) -> list[str]:
    plugin = "edenfake.plugin" if side == "edenfake" else "pytest_httpx"
    head = [sys.executable, "-m", "cProfile", "-o", profile] if profile else [sys.executable]
    return [*head, "-m", "pytest", "-q", "-p", plugin, "-p", "no:cacheprovider", side]


def _run(root: Path, side: str, tests: int) -> tuple[float, float]:
    """Wall and CPU seconds of one whole run (which must pass every test)."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(_command(side), cwd=root, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or f"{tests} passed" not in done.stdout:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise SystemExit(f"the {side} run did not pass all {tests} tests: " + " / ".join(tail)[:2000])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=300, help="one-call tests per side (1..5000)")
    parser.add_argument("--pairs", type=int, default=7, help="A B pairs of runs (1..50)")
    parser.add_argument("--prompts", choices=("distinct", "same"), default="distinct", help="a prompt per test")
    parser.add_argument("--profile", metavar="FILE", help="also write a cProfile of one edenfake run to FILE")
    parser.add_argument("--tag", default="consumer_cost", help="name of the results file")
    args = parser.parse_args()
    if not 1 <= args.tests <= 5000 or not 1 <= args.pairs <= 50:
        parser.error("--tests must be 1..5000 and --pairs 1..50")
    try:
        import pytest_httpx  # noqa: F401
    except ImportError:
        parser.error("pytest-httpx is not installed (pip install 'edenfake[bench]')")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _suite(root, args.tests, args.prompts == "same")
        for side in ("edenfake", "pytest_httpx"):  # warm-up: bytecode compiled, files in the page cache
            _run(root, side, args.tests)
        walls: dict[str, list[float]] = {"edenfake": [], "pytest_httpx": []}
        cpus: dict[str, list[float]] = {"edenfake": [], "pytest_httpx": []}
        for index in range(args.pairs):
            order = ("edenfake", "pytest_httpx") if index % 2 == 0 else ("pytest_httpx", "edenfake")
            for side in order:
                wall, cpu = _run(root, side, args.tests)
                walls[side].append(wall)
                cpus[side].append(cpu)
        if args.profile:
            env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
            subprocess.run(_command("edenfake", args.profile), cwd=root, env=env, capture_output=True, timeout=600)
    mine, base = walls["edenfake"], walls["pytest_httpx"]
    ratios = [a / b for a, b in zip(mine, base, strict=True)]
    per_test = [(a - b) / args.tests * 1000 for a, b in zip(mine, base, strict=True)]
    cpu_ratios = [a / b for a, b in zip(cpus["edenfake"], cpus["pytest_httpx"], strict=True)]
    cpu_per_test = [(a - b) / args.tests * 1000 for a, b in zip(cpus["edenfake"], cpus["pytest_httpx"], strict=True)]
    name = f"{args.tests} one-call tests, {args.prompts} prompts"
    for clock, values, pair_ratios, added in (
        ("wall", walls, ratios, per_test),
        ("cpu", cpus, cpu_ratios, cpu_per_test),
    ):
        # The figure is the median of the pairs' ratios (each pair ran back to back), not a ratio of medians.
        record(
            "consumer",
            f"{name}: edenfake / pytest-httpx, {clock}",
            statistics.median(pair_ratios),
            "x",
            None,
            "<= 1.1x",
            statistics.median(pair_ratios) <= 1.1,
            ratio_per_pair=spread(pair_ratios),
            seconds_edenfake=spread(values["edenfake"]),
            seconds_pytest_httpx=spread(values["pytest_httpx"]),
            added_ms_per_test=spread(added),
            baseline_is="the same tests through pytest-httpx answering a real answer's bytes",
        )
        record("consumer", f"{name}: added per test, {clock}", statistics.median(added), "ms", None)
    out = write_results(args.tag, tests=args.tests, pairs=args.pairs, prompts=args.prompts)
    print(f"# written {out}", flush=True)
    print(json.dumps({"ratio": spread(ratios)}))


if __name__ == "__main__":
    main()
