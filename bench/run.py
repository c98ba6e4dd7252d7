"""edenfake's benchmarks: every figure beside a baseline measured in the same run, as a ratio.

    python bench/run.py                    # everything (about 3 minutes)
    python bench/run.py --only images,inproc --quick
    python bench/run.py --only server --configs plain   # the server as a plain `pip install edenfake` runs it

Prints a table and writes bench/results/latest.json. Load tests target 127.0.0.1 only and stop by themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
AUTH = {"Authorization": "Bearer bench-token"}
VALID = {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "size": "1024x1024", "quality": "low"}
URL_REQ = {"model": "openai/dall-e-2", "prompt": "a red fox in the snow", "size": "1024x1024", "response_format": "url"}
INVALID = {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "n": 11}

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
    print(f"{group:9} {name:46} {value:10.4g} {unit:6} base {shown_base} {shown_ratio}  {target}{verdict}", flush=True)


def timeit(fn: Callable[[], object], *, repeat: int, number: int = 1) -> float:
    """Median seconds per call over ``repeat`` rounds of ``number`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - started) / number)
    return statistics.median(times)


# -- 3. images ----------------------------------------------------------------------------------------------


def bench_images(quick: bool) -> None:
    import io

    from PIL import Image

    from edenfake.images import ImageCache, ImageSpec, render_image

    sizes = [(256, 256), (512, 512), (1024, 1024), (1536, 1024), (1792, 1024), (2048, 2048), (3840, 2160)]
    repeat = 3 if quick else 7
    seq = iter(range(10**9))
    for fmt in ("png", "jpeg", "webp"):
        for w, h in sizes:

            def cold(w: int = w, h: int = h, fmt: Any = fmt) -> None:
                render_image(
                    ImageSpec(model="openai/gpt-image-2", prompt=f"bench {next(seq)}", width=w, height=h, format=fmt)
                )

            def naive(w: int = w, h: int = h, fmt: str = fmt) -> None:
                out = io.BytesIO()
                Image.new("RGB", (w, h), (200, 120, 40)).save(out, fmt.upper())

            t_cold = timeit(cold, repeat=repeat)
            t_naive = timeit(naive, repeat=repeat)
            target, ok = "", None
            if (w, h) == (1024, 1024) and fmt == "png":
                target, ok = "< 5 ms", t_cold < 0.005
            record(
                "images",
                f"cold {fmt} {w}x{h}",
                t_cold * 1000,
                "ms",
                t_naive * 1000,
                target,
                ok,
                baseline_is="Pillow encoding a flat image of the same size",
            )
    cache = ImageCache(max_bytes=256 * 1024 * 1024)
    spec = ImageSpec(model="openai/gpt-image-1", prompt="cached", width=1024, height=1024)
    cache.get(spec)
    t_hit = timeit(lambda: cache.get(spec), repeat=repeat, number=2000)
    t_dict = timeit(lambda: {spec.key: 1}.get(spec.key), repeat=repeat, number=2000)
    record(
        "images",
        "cached png 1024x1024 (cache hit)",
        t_hit * 1000,
        "ms",
        t_dict * 1000,
        "< 0.1 ms",
        t_hit < 0.0001,
        baseline_is="a dict lookup by the spec's key",
    )

    def ten() -> None:
        p = f"ten {next(seq)}"
        for i in range(10):
            render_image(ImageSpec(model="openai/gpt-image-1", prompt=p, width=1536, height=1024, index=i))

    def ten_naive() -> None:
        for _ in range(10):
            out = io.BytesIO()
            Image.new("RGB", (1536, 1024), (200, 120, 40)).save(out, "PNG")

    t10 = timeit(ten, repeat=repeat)
    record(
        "images",
        "cold png 1536x1024 n=10",
        t10 * 1000,
        "ms",
        timeit(ten_naive, repeat=repeat) * 1000,
        "< 50 ms",
        t10 < 0.05,
        baseline_is="Pillow encoding 10 flat images",
    )


# -- 2. in-process ------------------------------------------------------------------------------------------


def bench_inproc(quick: bool) -> None:
    import httpx
    import httpx2
    import openai

    import edenfake

    n = 200 if quick else 1000
    with edenfake.mock(clock=1):
        # The floor answers with the fake's own body, so both sides parse the same JSON.
        body = httpx.post("https://api.edenai.run/v3/images/generations", json=VALID, headers=AUTH).content
    eden = edenfake.mock(clock=1, assert_all_faults_used=False)
    mocked_sdk = openai.OpenAI(api_key="t", base_url="https://api.edenai.run/v3", max_retries=0)
    mocked_httpx = httpx.Client(headers=AUTH)

    def via_mock_sdk() -> None:
        mocked_sdk.images.generate(model=VALID["model"], prompt=VALID["prompt"], size="1024x1024", quality="low")

    def via_mock_httpx() -> None:
        mocked_httpx.post("https://api.edenai.run/v3/images/generations", json=VALID).json()

    floor_sdk = openai.OpenAI(
        api_key="t",
        base_url="https://api.edenai.run/v3",
        max_retries=0,
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(
                lambda r: httpx2.Response(200, content=body, headers={"content-type": "application/json"})
            )
        ),
    )
    floor_httpx = httpx.Client(
        headers=AUTH,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, content=body, headers={"content-type": "application/json"})
        ),
    )

    def floor_sdk_call() -> None:
        floor_sdk.images.generate(model=VALID["model"], prompt=VALID["prompt"], size="1024x1024", quality="low")

    def floor_httpx_call() -> None:
        floor_httpx.post("https://api.edenai.run/v3/images/generations", json=VALID).json()

    # Rounds interleaved (mock, floor, mock, floor...): a burst of load on the shared machine hits both sides.
    rounds, per_round = 9, max(20, n // 9)
    samples: dict[str, list[float]] = {"sdk": [], "httpx": [], "floor_sdk": [], "floor_httpx": []}
    for index in range(rounds + 1):
        eden.start()
        try:
            t_sdk = timeit(via_mock_sdk, repeat=1, number=per_round)
            t_httpx = timeit(via_mock_httpx, repeat=1, number=per_round)
            eden.calls.clear()
        finally:
            eden.stop(check=False)
        t_floor_sdk_round = timeit(floor_sdk_call, repeat=1, number=per_round)
        t_floor_httpx_round = timeit(floor_httpx_call, repeat=1, number=per_round)
        if index:  # the first round warms up
            samples["sdk"].append(t_sdk)
            samples["httpx"].append(t_httpx)
            samples["floor_sdk"].append(t_floor_sdk_round)
            samples["floor_httpx"].append(t_floor_httpx_round)
    t_mock_sdk, t_mock_httpx = statistics.median(samples["sdk"]), statistics.median(samples["httpx"])
    t_floor_sdk, t_floor_httpx = statistics.median(samples["floor_sdk"]), statistics.median(samples["floor_httpx"])
    record(
        "inproc",
        "openai SDK images.generate via edenfake.mock()",
        t_mock_sdk * 1000,
        "ms",
        t_floor_sdk * 1000,
        "<= 1.5x floor",
        t_mock_sdk <= 1.5 * t_floor_sdk,
        baseline_is="same SDK call, constant MockTransport",
    )
    record(
        "inproc",
        "httpx POST via edenfake.mock()",
        t_mock_httpx * 1000,
        "ms",
        t_floor_httpx * 1000,
        "<= 2x floor",
        t_mock_httpx <= 2 * t_floor_httpx,
        baseline_is="same httpx call, constant MockTransport",
    )


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


def _ports(n: int) -> list[int]:
    ports = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return ports


# -- 1. server throughput -----------------------------------------------------------------------------------


def _wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def _rss_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _wrk(port: int, body: dict[str, Any], connections: int, duration: int) -> dict[str, float]:
    script = textwrap.dedent(f"""
        wrk.method = "POST"
        wrk.body = {json.dumps(json.dumps(body))}
        wrk.headers["Content-Type"] = "application/json"
        wrk.headers["Authorization"] = "{AUTH["Authorization"]}"
    """)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-s",
                f.name,
                f"http://127.0.0.1:{port}/v3/images/generations",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 30,
        ).stdout
    finally:
        os.unlink(f.name)

    def latency(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(x) for x in sock.groups()) if sock else 0
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": socket_errors,
        "requests": total,
    }


async def _py_load(port: int, body: dict[str, Any], connections: int, duration: float) -> dict[str, float]:
    payload = json.dumps(body).encode()
    request = (
        f"POST /v3/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
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
                writer.write(request)
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
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "non2xx": sum(1 for s in statuses if s >= 300),
        "socket_errors": errors,
        "requests": len(latencies),
    }


#: uvicorn settings: what a plain `pip install edenfake` gets, and what `edenfake[standard]` gets
CONFIGS = {"plain": ["--loop", "asyncio", "--http", "h11"], "standard": ["--loop", "uvloop", "--http", "httptools"]}


def bench_server(quick: bool, configs: list[str]) -> None:
    for config in configs:
        _bench_server(quick, config)


def _bench_server(quick: bool, config: str) -> None:
    duration = 3 if quick else 10
    use_wrk = shutil.which("wrk") is not None
    tool = "wrk -t1" if use_wrk else "python asyncio load generator"
    print(f"# {config} ({' '.join(CONFIGS[config])}); load generator: {tool}; {duration}s per run", flush=True)

    def load(port: int, body: dict[str, Any], connections: int) -> dict[str, float]:
        if use_wrk:
            return _wrk(port, body, connections, duration)
        return asyncio.run(_py_load(port, body, connections, duration))

    fake_port, base_port = _ports(2)
    fake_args = [sys.executable, "-m", "edenfake", "serve", "--port", str(fake_port), "--quiet"]
    if os.environ.get("EDENFAKE_BENCH_OLD_CLI") != "1":  # a checkout from before --loop/--http
        fake_args += CONFIGS[config]
    fake = subprocess.Popen(fake_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(fake_port)
        import httpx

        sizes = {}
        for name, body in (("valid", VALID), ("url", URL_REQ), ("invalid", INVALID)):
            sizes[name] = len(
                httpx.post(f"http://127.0.0.1:{fake_port}/v3/images/generations", json=body, headers=AUTH).content
            )
        results: dict[tuple[str, int], dict[str, float]] = {}
        for connections in (4, 50):
            for name, body in (("valid", VALID), ("url", URL_REQ), ("invalid", INVALID)):
                results[(name, connections)] = load(fake_port, body, connections)
        rss = _rss_peak_kb(fake.pid)
    finally:
        fake.terminate()
        fake.wait(10)

    baselines: dict[tuple[str, int], dict[str, float]] = {}
    for name in ("valid", "url", "invalid"):
        base = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "baseline_app.py"), str(base_port), str(sizes[name]), config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_port(base_port)
            for connections in (4, 50):
                baselines[(name, connections)] = load(base_port, VALID, connections)
            base_rss = _rss_peak_kb(base.pid)
        finally:
            base.terminate()
            base.wait(10)

    for (name, connections), r in results.items():
        b = baselines[(name, connections)]
        expected_non2xx = r["requests"] if name == "invalid" else 0
        errors = r["socket_errors"] + abs(r["non2xx"] - expected_non2xx)
        share = r["rps"] / b["rps"]
        floor = 0.7 if name == "invalid" else 0.6
        record(
            f"srv-{config}",
            f"{name} req/s, {connections} conns ({sizes[name]} B body)",
            r["rps"],
            "req/s",
            b["rps"],
            f">= {floor:.0%} of base",
            share >= floor and errors == 0,
            errors=errors,
            baseline_is="bare Starlette, constant body of the same size, same uvicorn",
        )
        record(f"srv-{config}", f"{name} p50, {connections} conns", r["p50"], "ms", b["p50"])
        p99_ok = r["p99"] < 5 if connections == 4 else None
        record(
            f"srv-{config}",
            f"{name} p99, {connections} conns",
            r["p99"],
            "ms",
            b["p99"],
            "< 5 ms" if connections == 4 else "",
            p99_ok,
        )
    record(f"srv-{config}", "peak RSS after the load runs", rss / 1024, "MiB", base_rss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="images,inproc,startup,server", help="comma-separated sections")
    parser.add_argument("--quick", action="store_true", help="shorter runs (for a smoke check, not for figures)")
    parser.add_argument(
        "--configs", default="plain,standard", help="server configurations: plain (asyncio, h11), standard (uvloop)"
    )
    parser.add_argument("--tag", default="latest", help="name of the results file (bench/results/TAG.json)")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",")]
    sections: dict[str, Callable[[bool], None]] = {
        "images": bench_images,
        "inproc": bench_inproc,
        "startup": bench_startup,
        "server": lambda quick: bench_server(quick, configs),
    }
    print(f"# edenfake bench on {platform.node()} ({os.cpu_count()} cores), Python {platform.python_version()}")
    for name in args.only.split(","):
        gc.collect()
        sections[name.strip()](args.quick)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.tag}.json"
    out.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "quick": args.quick,
                "python": platform.python_version(),
                "rows": rows,
            },
            indent=2,
        )
    )
    missed = [r["name"] for r in rows if r["ok"] is False]
    print(
        f"# written {out.relative_to(ROOT)}; targets missed: {len(missed)}"
        + (f" ({'; '.join(missed)})" if missed else "")
    )


if __name__ == "__main__":
    main()
