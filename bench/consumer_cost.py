"""A consumer's cost per test: the same one-call tests through the ``edenfake`` fixture and through
pytest-httpx answering a constant body (a real answer of the fake), as whole pytest runs, A B A B.

    python bench/consumer_cost.py                   # 300 tests a side, 7 pairs of runs
    python bench/consumer_cost.py --tests 100 --pairs 3
    python bench/consumer_cost.py --prompts same    # every test sends the same request
    python bench/consumer_cost.py --profile /tmp/fixture.prof   # and cProfile one edenfake run
    python bench/consumer_cost.py --old /tmp/old-rev            # and the fixture of another checkout

A third side, one ``edenfake.mock()`` for the whole session reset before each test, shows what building a
fake for every test costs. ``--old DIR`` adds a fourth: the same fixture tests with edenfake imported from
another checkout (``git worktree add /tmp/old-rev REV``), in the same A B A B run, so that a change is
measured against what it changed while the machine is as busy for both.

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


SHARED_TESTS = """
import httpx
import pytest

import edenfake

BODY = {body!r}
CLIENT = httpx.Client(headers={headers!r})


@pytest.fixture(scope="session")
def _one_fake():
    with edenfake.mock(assert_all_faults_used=False) as handle:
        yield handle


@pytest.fixture
def shared_fake(_one_fake):
    _one_fake.reset()
    return _one_fake


for _i in range({tests}):
    def _test(shared_fake, _i=_i):
        answer = CLIENT.post({url!r}, json={{**BODY, "prompt": {prompt}}})
        assert answer.status_code == 200 and answer.json()["data"][0]["b64_json"]
    globals()[f"test_{{_i}}"] = _test
"""
#: the sides: the fixture, pytest-httpx (the baseline), and one fake for the session reset before each test (what
#: building a fake per test costs, measured as the difference)
SIDES = ("edenfake", "pytest_httpx", "shared")


def _suite(root: Path, tests: int, same: bool) -> None:
    import httpx

    import edenfake

    prompt = '"a red fox in the snow"' if same else 'f"a red fox in the snow, test {_i}"'
    with edenfake.mock(clock=1):
        answer = httpx.post(URL, json={**BODY, "prompt": "a red fox in the snow, test 0"}, headers=AUTH).content
    (root / "answer.json").write_bytes(answer)
    fields = {"body": BODY, "headers": AUTH, "tests": tests, "url": URL, "prompt": prompt}
    templates = {"edenfake": EDENFAKE_TESTS, "pytest_httpx": PYTEST_HTTPX_TESTS, "shared": SHARED_TESTS}
    for name, template in templates.items():
        (root / name).mkdir()
        (root / name / f"test_{name}.py").write_text(template.format(**fields))


#: the side that runs the fixture tests with edenfake from another checkout (--old)
OLD = "edenfake_old"


def _command(side: str, profile: str | None = None) -> list[str]:
    plugin = {"edenfake": ["-p", "edenfake.plugin"], "pytest_httpx": ["-p", "pytest_httpx"], "shared": []}
    plugin[OLD] = plugin["edenfake"]
    head = [sys.executable, "-m", "cProfile", "-o", profile] if profile else [sys.executable]
    return [*head, "-m", "pytest", "-q", *plugin[side], "-p", "no:cacheprovider", "edenfake" if side == OLD else side]


def _env(old: Path | None = None) -> dict[str, str]:
    """The runs' environment: only the plugin each side names, and bytecode caches written and read as a
    consumer's installed packages have them (a PYTHONDONTWRITEBYTECODE in the caller's environment would make
    every run compile edenfake's modules from source, which no installed wheel does); ``old``: edenfake is
    imported from that checkout."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if old is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(old), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _run(root: Path, side: str, tests: int, old: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one whole run (which must pass every test)."""
    env = _env(old if side == OLD else None)
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
    parser.add_argument("--old", metavar="DIR", type=Path, help="also run the fixture from this checkout of edenfake")
    args = parser.parse_args()
    if not 1 <= args.tests <= 5000 or not 1 <= args.pairs <= 50:
        parser.error("--tests must be 1..5000 and --pairs 1..50")
    if args.old is not None and not (args.old / "edenfake" / "plugin.py").is_file():
        parser.error(f"--old: {args.old} is not a checkout of edenfake (no edenfake/plugin.py in it)")
    sides = (*SIDES, OLD) if args.old is not None else SIDES
    try:
        import pytest_httpx  # noqa: F401
    except ImportError:
        parser.error("pytest-httpx is not installed (pip install 'edenfake[bench]')")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _suite(root, args.tests, args.prompts == "same")
        for side in sides:  # warm-up: bytecode compiled, files in the page cache
            _run(root, side, args.tests, args.old)
        walls: dict[str, list[float]] = {side: [] for side in sides}
        cpus: dict[str, list[float]] = {side: [] for side in sides}
        for index in range(args.pairs):
            order = sides if index % 2 == 0 else sides[::-1]
            for side in order:
                wall, cpu = _run(root, side, args.tests, args.old)
                walls[side].append(wall)
                cpus[side].append(cpu)
        if args.profile:
            subprocess.run(_command("edenfake", args.profile), cwd=root, env=_env(), capture_output=True, timeout=600)
    name = f"{args.tests} one-call tests, {args.prompts} prompts"
    labels = [("edenfake", "edenfake fixture"), ("shared", "one fake reset per test")]
    if args.old is not None:
        labels.append((OLD, f"edenfake fixture of {args.old}"))
    for side, label in labels:
        for clock, values in (("wall", walls), ("cpu", cpus)):
            mine, base = values[side], values["pytest_httpx"]
            # The figure is the median of the pairs' ratios (each pair ran back to back), not a ratio of medians.
            ratios = [a / b for a, b in zip(mine, base, strict=True)]
            added = [(a - b) / args.tests * 1000 for a, b in zip(mine, base, strict=True)]
            target = side == "edenfake"
            record(
                "consumer",
                f"{name}: {label} / pytest-httpx, {clock}",
                statistics.median(ratios),
                "x",
                None,
                "<= 1.1x" if target else "",
                statistics.median(ratios) <= 1.1 if target else None,
                ratio_per_pair=spread(ratios),
                seconds=spread(mine),
                seconds_pytest_httpx=spread(base),
                added_ms_per_test=spread(added),
                baseline_is="the same tests through pytest-httpx answering a real answer's bytes",
            )
            record("consumer", f"{name}: {label}, added per test, {clock}", statistics.median(added), "ms", None)
    if args.old is not None:
        for clock, values in (("wall", walls), ("cpu", cpus)):
            ratios = [a / b for a, b in zip(values["edenfake"], values[OLD], strict=True)]
            record("consumer", f"{name}: edenfake fixture / the old checkout's, {clock}", statistics.median(ratios),
                   "x", None, ratio_per_pair=spread(ratios), old=str(args.old))  # fmt: skip
    out = write_results(args.tag, tests=args.tests, pairs=args.pairs, prompts=args.prompts, old=str(args.old or ""))
    print(f"# written {out}", flush=True)
    fixture = [a / b for a, b in zip(walls["edenfake"], walls["pytest_httpx"], strict=True)]
    print(json.dumps({"edenfake fixture / pytest-httpx, wall": spread(fixture)}))


if __name__ == "__main__":
    main()
