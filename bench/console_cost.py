"""What the console costs the server it watches: requests and bytes per refresh, the time the server spends
on a refresh, and the API's throughput with the page open against the page closed, measured in one run.

    python bench/console_cost.py                 # 5 rounds of 5 s with the page closed, then open (A B A B ...)
    python bench/console_cost.py --rounds 3 --seconds 8 --tool python

The fake runs as `edenfake serve` in its own process on 127.0.0.1; the API load comes from wrk when it is
installed (else from keep-alive http.client loops in threads); the page is Debian's Chromium driven by
playwright, polling as it does by default (once a second). Needs `apt-get install chromium` and playwright.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the Chromium switches are the browser tests' own
from tests.helpers import CHROMIUM_ARGS  # noqa: E402

BODY = json.dumps({"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "quality": "low"})
AUTH = "Bearer bench-token"


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edenfake", "serve", "--port", "0", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    found = re.search(r"at (http://127\.0\.0\.1:\d+)", proc.stdout.readline())
    if found is None:
        proc.kill()
        raise SystemExit("edenfake serve did not print its address")
    return proc, found.group(1)


def load_wrk(url: str, seconds: float, connections: int) -> float:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n'
        f'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "{AUTH}"\n'
    )
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url + "/v3/images/generations"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(found.group(1))


def load_python(url: str, seconds: float, connections: int) -> float:
    host, port = url.removeprefix("http://").split(":")
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port))
        headers = {"Content-Type": "application/json", "Authorization": AUTH}
        while time.perf_counter() < stop:
            conn.request("POST", "/v3/images/generations", BODY, headers)
            conn.getresponse().read()
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def admin(url: str, method: str, path: str) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.request(method, path)
    body = conn.getresponse().read()
    conn.close()
    return body


def refresh_time(url: str, reads: int = 200) -> tuple[float, int]:
    """Median ms the server takes for the page's journal read (the newest call and 50 more), and its size."""
    count = json.loads(admin(url, "GET", "/_edenfake/calls?limit=1"))["count"]
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    times = []
    size = 0
    for _ in range(reads):
        started = time.perf_counter()
        conn.request("GET", f"/_edenfake/calls?offset={max(0, count - 51)}&limit=51")
        size = len(conn.getresponse().read())
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return statistics.median(times), size


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def chromium_pids() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name = stat.read_text().split("(", 1)[1].split(")", 1)[0]
        except (OSError, IndexError):
            continue
        if name.startswith(("chromium", "chrome")):
            pids.append(int(stat.parent.name))
    return pids


class Watched:
    """What the open page asked of the server while a phase ran."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.bytes: dict[str, int] = {}

    def add(self, url: str, size: int) -> None:
        kind = url.split("/_edenfake/", 1)[-1].split("?")[0].split("/")[0] or "page"
        self.requests[kind] = self.requests.get(kind, 0) + 1
        self.bytes[kind] = self.bytes.get(kind, 0) + size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tool", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    load = load_wrk if args.tool == "wrk" else load_python
    proc, url = start_server()
    closed: list[float] = []
    opened: list[float] = []
    under_load = Watched()
    server_cpu = {"closed": 0.0, "open": 0.0}
    served = {"closed": 0.0, "open": 0.0}
    browser_cpu: list[float] = []
    idle = Watched()
    try:
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )

            def open_page(watched: Watched) -> Any:
                tab = browser.new_page()
                tab.goto(url + "/_edenfake/")
                tab.wait_for_timeout(1500)  # loaded, catalog read, polling: only refreshes are counted from here
                tab.on("response", lambda r: watched.add(r.url, int(r.headers.get("content-length", "0"))))
                return tab

            # Idle: the page open on a fake that answers nothing else.
            load(url, 1.0, args.connections)  # one warm-up second, and calls for the page to show
            tab = open_page(idle)
            tab.wait_for_timeout(args.seconds * 1000)
            tab.close()
            for _ in range(args.rounds):
                before = cpu_seconds([proc.pid])
                closed.append(load(url, args.seconds, args.connections))
                server_cpu["closed"] += cpu_seconds([proc.pid]) - before
                served["closed"] += closed[-1] * args.seconds
                tab = open_page(under_load)
                done: list[float] = []
                runner = threading.Thread(
                    target=lambda done=done: done.append(load(url, args.seconds, args.connections))
                )
                before, browser_before = cpu_seconds([proc.pid]), cpu_seconds(chromium_pids())
                runner.start()
                while runner.is_alive():  # the page's events are read while playwright waits
                    tab.wait_for_timeout(100)
                runner.join()
                server_cpu["open"] += cpu_seconds([proc.pid]) - before
                browser_cpu.append(cpu_seconds(chromium_pids()) - browser_before)
                opened.append(done[0])
                served["open"] += opened[-1] * args.seconds
                tab.close()
            browser.close()
        ms, size = refresh_time(url)
    finally:
        proc.terminate()
        proc.wait(timeout=15)

    refreshes_idle = args.seconds  # one a second
    refreshes_load = args.seconds * args.rounds
    print(f"load: {args.tool}, {args.connections} connections, {args.rounds} rounds of {args.seconds:g} s, A B A B")
    for i, (a, b) in enumerate(zip(closed, opened, strict=True)):
        print(f"  round {i + 1}: page closed {a:9.0f} req/s   page open {b:9.0f} req/s   ratio {b / a:.3f}")
    ratio = statistics.median(b / a for a, b in zip(closed, opened, strict=True))
    print(f"API throughput, page open / page closed (median of rounds): {ratio:.3f}")
    per = {k: server_cpu[k] / served[k] * 1e6 for k in served}
    share = statistics.mean(browser_cpu) / args.seconds
    print(
        f"server CPU per API request: {per['closed']:.0f} us page closed, {per['open']:.0f} us page open "
        f"(ratio {per['open'] / per['closed']:.3f}); the browser used {share:.0%} of a CPU while open, "
        f"on this {os.cpu_count()}-CPU machine"
    )
    for label, watched, refreshes in (("idle", idle, refreshes_idle), ("under load", under_load, refreshes_load)):
        requests = sum(watched.requests.values())
        sent = sum(watched.bytes.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(watched.requests.items()))
        print(
            f"page {label}: {requests / refreshes:.2f} requests and {sent / refreshes:,.0f} bytes per refresh "
            f"({detail})"
        )
    print(f"server time per refresh with a full journal: {ms:.2f} ms median for the newest 51 calls ({size:,} bytes)")


if __name__ == "__main__":
    main()
