"""edenfake's benchmarks: every figure beside a baseline measured in the same run, as a ratio.

    python bench/run.py                    # everything (about 10 minutes; the server takes most)
    python bench/run.py --only images,inproc --quick
    python bench/run.py --only clients              # requests and aiohttp through the mock (inproc_clients.py)
    python bench/run.py --only server --configs plain   # the server as a plain `pip install edenfake` runs it
    python bench/run.py --only server --old /tmp/old    # beside another checkout (git worktree add /tmp/old REV)

Prints a table and writes bench/results/latest.json. Load tests target 127.0.0.1 only and stop by themselves.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _harness import ROOT, record, rows, timeit, write_results
from _harness import ports as _ports
from _inproc import bench_images, bench_inproc
from _server import BODIES, CONFIGS, bench_server
from inproc_clients import bench_clients

# -- 4. start-up --------------------------------------------------------------------------------------------


def _run_time(args: list[str], repeat: int, cwd: Path | None = None) -> float:
    def once() -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=cwd)

    once()
    return timeit(once, repeat=repeat)


def bench_startup(quick: bool) -> None:
    repeat = 5 if quick else 15
    py = sys.executable
    t_import = _run_time([py, "-c", "import edenfake"], repeat)
    t_bare = _run_time([py, "-c", "pass"], repeat)
    record(
        "startup",
        "python -c 'import edenfake' (added)",
        (t_import - t_bare) * 1000,
        "ms",
        t_bare * 1000,
        "< 150 ms",
        (t_import - t_bare) < 0.150,
        baseline_is="python -c pass",
    )
    t_use = _run_time([py, "-c", "import edenfake; edenfake.EdenFake()"], repeat)
    record("startup", "import edenfake + EdenFake() (added)", (t_use - t_bare) * 1000, "ms", t_bare * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp)
        (suite / "test_plain.py").write_text("".join(f"def test_{i}():\n    assert {i} == {i}\n" for i in range(200)))
        # Only pytest itself and (on one side) edenfake's plugin: other installed plugins would drown the figure.
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        base_args = [py, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"]
        with_args = [*base_args, "-p", "edenfake.plugin"]
        without, with_plugin = [], []
        for _ in range(repeat * 2):  # interleaved, so that drift in the machine's load hits both sides
            for args, times in ((base_args, without), (with_args, with_plugin)):
                started = time.perf_counter()
                subprocess.run(args, check=True, capture_output=True, cwd=suite, env=env)
                times.append(time.perf_counter() - started)
        t_without, t_with = statistics.median(without), statistics.median(with_plugin)
    record(
        "startup",
        "pytest plugin overhead, 200-test suite",
        (t_with - t_without) * 1000,
        "ms",
        t_without * 1000,
        "< 20 ms",
        (t_with - t_without) < 0.020,
        baseline_is="the same collection without the plugin",
    )

    def first_answer(args: list[str], port: int) -> float:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = started + 20
            while time.perf_counter() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        if s.recv(12).startswith(b"HTTP/1.1 200"):
                            return time.perf_counter() - started
                except OSError:
                    time.sleep(0.005)
            raise TimeoutError("server did not answer")
        finally:
            proc.terminate()
            proc.wait(10)

    runs = 3 if quick else 5
    t_serve = statistics.median(
        first_answer([py, "-m", "edenfake", "serve", "--port", str(p), "--quiet"], p) for p in _ports(runs)
    )
    t_base = statistics.median(
        first_answer([py, str(ROOT / "bench" / "baseline_app.py"), str(p), "100"], p) for p in _ports(runs)
    )
    record(
        "startup",
        "edenfake serve: start to first answer",
        t_serve * 1000,
        "ms",
        t_base * 1000,
        "< 1000 ms",
        t_serve < 1.0,
        baseline_is="bare Starlette app under uvicorn",
    )


def _commit(checkout: Path) -> str | None:
    """The checkout's commit, with "+changes" when its tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=checkout, capture_output=True)
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.returncode == 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="images,inproc,startup,server", help="comma-separated sections")
    parser.add_argument("--quick", action="store_true", help="shorter runs (for a smoke check, not for figures)")
    parser.add_argument(
        "--configs", default="plain,standard", help="server configurations: plain (asyncio, h11), standard (uvloop)"
    )
    parser.add_argument(
        "--bodies",
        default="constant,distinct-256,distinct-1024",
        help=f"server request bodies, of {','.join(BODIES)}: constant repeats one body; distinct-* give every "
        "request a prompt of its own (a new image each)",
    )
    parser.add_argument(
        "--old", type=Path, help="another checkout of edenfake (git worktree add DIR COMMIT) to serve beside this one"
    )
    parser.add_argument("--rounds", type=int, default=3, help="server rounds per side, interleaved (median)")
    parser.add_argument("--tag", default="latest", help="name of the results file (bench/results/TAG.json)")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",")]
    bodies = [b.strip() for b in args.bodies.split(",")]
    unknown = [c for c in configs if c not in CONFIGS] + [b for b in bodies if b not in BODIES]
    if unknown:
        parser.error(f"--configs/--bodies: unknown {', '.join(unknown)}")
    if args.old is not None and not (args.old / "edenfake" / "__init__.py").is_file():
        parser.error(f"--old: {args.old} is not a checkout of edenfake (no edenfake/__init__.py)")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    sections: dict[str, Callable[[bool], None]] = {
        "images": bench_images,
        "inproc": bench_inproc,
        "clients": bench_clients,
        "startup": bench_startup,
        "server": lambda quick: bench_server(quick, configs, bodies, args.old, args.rounds),
    }
    print(f"# edenfake bench on {platform.node()} ({os.cpu_count()} cores), Python {platform.python_version()}")
    for name in args.only.split(","):
        if name.strip() not in sections:
            parser.error(f"--only: unknown section {name.strip()!r} (of {', '.join(sections)})")
    for name in args.only.split(","):
        gc.collect()
        sections[name.strip()](args.quick)
    meta = {
        "quick": args.quick,
        "python": platform.python_version(),
        "commit": _commit(ROOT),
        "old": str(args.old) if args.old else None,
        "old_commit": _commit(args.old) if args.old else None,
    }
    out = write_results(args.tag, **meta)
    missed = [r["name"] for r in rows if r["ok"] is False]
    print(
        f"# written {out.relative_to(ROOT)}; targets missed: {len(missed)}"
        + (f" ({'; '.join(missed)})" if missed else "")
    )


if __name__ == "__main__":
    main()
