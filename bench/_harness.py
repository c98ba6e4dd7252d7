"""What every benchmark here shares: the table of figures (each beside its baseline, as a ratio), timing,
free ports on 127.0.0.1, and the load generators (wrk, or a Python one without it)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
AUTH = {"Authorization": "Bearer bench-token"}
PATH = "/v3/images/generations"

rows: list[dict[str, Any]] = []


def record(
    group: str,
    name: str,
    value: float,
    unit: str,
    baseline: float | None,
    target: str = "",
    ok: bool | None = None,
    **extra: Any,
) -> None:
    """One figure of the table, printed as it comes."""
    ratio = value / baseline if baseline else None
    rows.append(
        {
            "group": group,
            "name": name,
            "value": value,
            "unit": unit,
            "baseline": baseline,
            "ratio": ratio,
            "target": target,
            "ok": ok,
            **extra,
        }
    )
    shown_ratio = f"{ratio:6.2f}x" if ratio is not None else "     -"
    shown_base = f"{baseline:10.4g}" if baseline is not None else "         -"
    verdict = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"{group:9} {name:50} {value:10.4g} {unit:6} base {shown_base} {shown_ratio}  {target}{verdict}", flush=True)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, lowest and highest of a few repeated measurements (what the README quotes)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def write_results(tag: str, **meta: Any) -> Path:
    """The table as strict JSON (no NaN: a missing figure is null)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{tag}.json"
    document = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **meta, "rows": rows}
    out.write_text(json.dumps(_finite(document), indent=2, allow_nan=False) + "\n")
    return out


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def timeit(
    fn: Callable[[], object], *, repeat: int, number: int = 1, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median seconds per call over ``repeat`` rounds of ``number`` calls. ``clock=time.thread_time`` counts
    only this thread's CPU: for work done in the calling thread, steadier on a machine shared with others."""
    times = []
    for _ in range(repeat):
        started = clock()
        for _ in range(number):
            fn()
        times.append((clock() - started) / number)
    return statistics.median(times)


def ports(n: int) -> list[int]:
    found = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            found.append(s.getsockname()[1])
    return found


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def rss_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/<pid>/stat): unlike req/s, barely moved
    by what else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lua(body: dict[str, Any], distinct: str | None) -> str:
    """wrk's script: POST ``body``; with ``distinct`` (a salt unique to the run), every request's prompt is
    "<salt> <counter> <prompt>", so that no two requests of a run (wrk -t1: one counter), or of two runs, are
    the same."""
    script = textwrap.dedent(f"""
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        wrk.headers["Authorization"] = "{AUTH["Authorization"]}"
        wrk.body = {json.dumps(json.dumps(body))}
    """)
    if distinct is None:
        return script
    # A JSON body with %s where the prompt goes; the salt and counter are plain ASCII, so no escaping needed.
    template = json.dumps({**body, "prompt": "@P@"}).replace("%", "%%").replace('"@P@"', '"%s"')
    prompt = json.dumps(body["prompt"])[1:-1].replace("%", "%%")
    return script + textwrap.dedent(f"""
        local counter = 0
        local template = {json.dumps(template)}
        function request()
          counter = counter + 1
          local prompt = "{distinct} " .. counter .. " {prompt}"
          return wrk.format(nil, nil, nil, string.format(template, prompt))
        end
    """)


def wrk(
    port: int, body: dict[str, Any], connections: int, duration: int, distinct: str | None = None
) -> dict[str, float]:
    """One wrk run (one thread) against 127.0.0.1:``port``: req/s, p50/p99 in ms, and what went wrong."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua(body, distinct))
    try:
        args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", f.name]
        out = subprocess.run(
            [*args, f"http://127.0.0.1:{port}{PATH}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 30,
        ).stdout
    finally:
        os.unlink(f.name)

    def latency(label: str) -> float | None:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return None if m is None else float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
        "requests": total,
    }


async def py_load(
    port: int, body: dict[str, Any], connections: int, duration: float, distinct: str | None = None
) -> dict[str, float]:
    """What :func:`wrk` measures, from Python (for a machine without wrk: it saturates sooner)."""
    counter = 0

    def request() -> bytes:
        nonlocal counter
        counter += 1
        sent = body if distinct is None else {**body, "prompt": f"{distinct} {counter} {body['prompt']}"}
        payload = json.dumps(sent).encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: {AUTH['Authorization']}\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload

    latencies: list[float] = []
    statuses: list[int] = []
    errors = 0
    stop = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                writer.write(request())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses.append(int(head[9:12]))
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] if latencies else None,
        "p99": latencies[int(len(latencies) * 0.99)] if latencies else None,
        "non2xx": sum(1 for s in statuses if s >= 300),
        "socket_errors": errors,
        "requests": len(latencies),
    }
