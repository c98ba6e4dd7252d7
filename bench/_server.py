"""The server under wrk: ``edenfake serve`` (this checkout, and optionally an older one) against a bare
Starlette app sending a constant body of the same size, all three listening at once on 127.0.0.1 and loaded
in turn, round after round, so that a burst of load on the shared machine hits every side."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _harness import AUTH, PATH, ROOT, cpu_seconds, ports, py_load, record, rss_peak_kb, spread, wait_port, wrk

VALID = {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "size": "1024x1024", "quality": "low"}
SMALL = {
    "model": "openai/dall-e-2",
    "prompt": "a red fox in the snow",
    "size": "256x256",
    "response_format": "b64_json",
}
URL_REQ = {"model": "openai/dall-e-2", "prompt": "a red fox in the snow", "size": "1024x1024", "response_format": "url"}
INVALID = {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "n": 11}

#: name: (body, whether every request gets a prompt of its own)
BODIES: dict[str, tuple[dict[str, Any], bool]] = {
    "constant": (VALID, False),
    "distinct-256": (SMALL, True),
    "distinct-1024": (VALID, True),
    "url": (URL_REQ, False),
    "invalid": (INVALID, False),
}
#: uvicorn settings: what a plain `pip install edenfake` gets, and what `edenfake[standard]` gets
CONFIGS = {"plain": ["--loop", "asyncio", "--http", "h11"], "standard": ["--loop", "uvloop", "--http", "httptools"]}
#: the constant body's share of the baseline's req/s that the fake must reach, by config and connections
TARGETS = {("plain", 4): 0.8, ("plain", 50): 0.7}


def bench_server(quick: bool, configs: list[str], bodies: list[str], old: Path | None, rounds: int) -> None:
    for config in configs:
        _bench_config(quick, config, bodies, old, rounds)


def _serve(port: int, config: str, checkout: Path | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "edenfake", "serve", "--port", str(port), "--quiet", *CONFIGS[config]]
    env = dict(os.environ)
    if checkout is not None:  # that checkout's package wins over the editable install of this one
        env["PYTHONPATH"] = str(checkout)
    cwd = checkout or ROOT
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)


def _baseline(port: int, size: int, config: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(ROOT / "bench" / "baseline_app.py"), str(port), str(size), config]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _answer_size(port: int, body: dict[str, Any], distinct: bool) -> int:
    sent = {**body, "prompt": f"probe {time.time_ns()} {body['prompt']}"} if distinct else body
    return len(httpx.post(f"http://127.0.0.1:{port}{PATH}", json=sent, headers=AUTH, timeout=30).content)


def _bench_config(quick: bool, config: str, bodies: list[str], old: Path | None, rounds: int) -> None:
    duration = 2 if quick else 5
    use_wrk = shutil.which("wrk") is not None
    tool = "wrk -t1" if use_wrk else "python asyncio load generator"
    print(f"# {config} ({' '.join(CONFIGS[config])}); {tool}; {rounds} rounds of {duration}s per side", flush=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        servers: dict[str, int] = {}
        pids: dict[int, int] = {}  # port: pid
        for side, checkout in (("new", None), ("old", old)):
            if side == "old" and old is None:
                continue
            (port,) = ports(1)
            procs.append(_serve(port, config, checkout))
            servers[side] = port
            pids[port] = procs[-1].pid
        for port in servers.values():
            wait_port(port)
        sizes = {name: _answer_size(servers["new"], *BODIES[name]) for name in bodies}
        bases: dict[str, int] = {}
        for name in bodies:
            (port,) = ports(1)
            procs.append(_baseline(port, sizes[name], config))
            bases[name] = port
            pids[port] = procs[-1].pid
        for port in bases.values():
            wait_port(port)
        salt = f"run{time.time_ns()}"
        for name in bodies:
            body, distinct = BODIES[name]
            for connections in (4, 50):
                sides = {**servers, "base": bases[name]}
                runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
                for index in range(rounds):
                    order = list(sides)[index % len(sides) :] + list(sides)[: index % len(sides)]
                    for side in order:
                        tag = f"{salt}-{side}-{connections}-{index}" if distinct else None
                        port = sides[side]
                        cpu = cpu_seconds(pids[port])
                        if use_wrk:
                            run = wrk(port, body, connections, duration, tag)
                        else:
                            run = asyncio.run(py_load(port, body, connections, duration, tag))
                        run["cpu_ms_per_request"] = (cpu_seconds(pids[port]) - cpu) * 1000 / max(1, run["requests"])
                        runs[side].append(run)
                _report(config, name, connections, sizes[name], runs)
        record(f"srv-{config}", "peak RSS of the fake after the runs", rss_peak_kb(procs[0].pid) / 1024, "MiB", None)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _report(config: str, name: str, connections: int, size: int, runs: dict[str, list[dict[str, Any]]]) -> None:
    group = f"srv-{config}"
    base = [r["rps"] for r in runs["base"]]
    base_cpu = [r["cpu_ms_per_request"] for r in runs["base"]]
    for side in [s for s in ("new", "old") if s in runs]:
        rps = [r["rps"] for r in runs[side]]
        # Every invalid request must be refused; every other one answered.
        errors = sum(
            r["socket_errors"] + abs(r["non2xx"] - (r["requests"] if name == "invalid" else 0)) for r in runs[side]
        )
        shares = [a / b for a, b in zip(rps, base, strict=True)]
        floor = TARGETS.get((config, connections)) if name == "constant" and side == "new" else None
        record(
            group,
            f"{side} {name} req/s, {connections} conns ({size} B)",
            statistics.median(rps),
            "req/s",
            statistics.median(base),
            f">= {floor:.0%} of base" if floor else "",
            None if floor is None else statistics.median(shares) >= floor and errors == 0,
            errors=errors,
            share_of_base=spread(shares),
            rps=spread(rps),
            baseline_rps=spread(base),
            baseline_is="bare Starlette, constant body of the same size, same uvicorn, same request",
        )
        cpu = [r["cpu_ms_per_request"] for r in runs[side]]
        record(
            group,
            f"{side} {name} server CPU per request, {connections} conns",
            statistics.median(cpu),
            "ms",
            statistics.median(base_cpu),
            cpu_ratio=spread([a / b for a, b in zip(cpu, base_cpu, strict=True)]),
            baseline_is="the bare Starlette app's CPU per request, same runs",
        )
        p50 = [r["p50"] for r in runs[side] if r["p50"] is not None]
        p99 = [r["p99"] for r in runs[side] if r["p99"] is not None]
        if p50 and p99:
            record(
                group,
                f"{side} {name} p50 / p99 ms, {connections} conns",
                statistics.median(p50),
                "ms",
                None,
                p99=statistics.median(p99),
            )
    if "old" in runs:
        old, new = [r["rps"] for r in runs["old"]], [r["rps"] for r in runs["new"]]
        ratios = [a / b for a, b in zip(old, new, strict=True)]
        cpu_old = [r["cpu_ms_per_request"] for r in runs["old"]]
        cpu_new = [r["cpu_ms_per_request"] for r in runs["new"]]
        record(
            group,
            f"old/new {name}, {connections} conns",
            statistics.median(old),
            "req/s",
            statistics.median(new),
            old_over_new=spread(ratios),
            cpu_per_request_new_over_old=spread([a / b for a, b in zip(cpu_new, cpu_old, strict=True)]),
            baseline_is="this checkout; the value is the older checkout, in the same rounds",
        )
