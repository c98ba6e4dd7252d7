"""Soak test: does ``edenfake serve`` keep its memory flat under sustained load, and after hostile bodies?

    python bench/soak.py                          # 60 s of load at 50 connections
    python bench/soak.py --seconds 120 --connections 20
    python bench/soak.py --quick                  # 10 s smoke run
    python bench/soak.py --rate-limit 10 --tokens 10000 --out bench/results/soak-rate-limit.json

1. starts ``edenfake serve --quiet`` on a free 127.0.0.1 port (same interpreter, so the same venv);
2. runs ``wrk -t1`` against POST /v3/images/generations with a mix of requests, every prompt unique, while
   sampling the server's RSS (/proc/<pid>/status VmRSS) once a second;
3. sends eight 40 MiB bodies the fake must refuse, and compares RSS before and after.

With ``--tokens N`` three requests in four carry one of N distinct bearer tokens (in turn), the fourth the
same token; with ``--rate-limit`` that token is held back (429), and the limiter sees N tokens come and go.

Prints a table, writes bench/results/soak.json. Exit status: 0 when every check passes, 1 when one fails,
2 when the run could not be made (no wrk, the server did not start...). Everything has a time limit and the
server is stopped (SIGINT, then SIGKILL) whatever happens. Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _soak_load import HOST, MIX, TOKEN, check_mix_against_catalog, preflight, run_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MiB = 1024 * 1024

PEAK_LIMIT_MIB = 250
PLATEAU_RATIO = 0.10
PLATEAU_SLACK_MIB = 20
REJECTED_SLACK_MIB = 160
HOSTILE_BYTES = 40 * MiB

# -- the server and its memory ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def mib(kib: float | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before answering")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return time.monotonic() - started
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the server did not answer GET /healthz within {timeout:.0f} s")


class Sampler(threading.Thread):
    """VmRSS once a second, each sample tagged with the phase it was taken in."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.phase = "idle"
        self.samples: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            kib = rss_kib(self.pid)
            if kib is not None:
                self.samples.append({"t": round(time.monotonic() - self.started, 2), "phase": self.phase, "kib": kib})
            self._halt.wait(1.0)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(5)

    def of(self, phase: str) -> list[dict[str, Any]]:
        return [s for s in self.samples if s["phase"] == phase]


def stop_server(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is not None:
        return f"had exited with status {proc.returncode}"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
        return f"stopped by SIGINT (status {proc.returncode})"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return "did not stop on SIGINT within 10 s: killed"


# -- hostile bodies -----------------------------------------------------------------------------------------


def send_big(port: int, path: str, body_head: bytes, filler: int, body_tail: bytes) -> dict[str, Any]:
    """POST a body of ``head + filler * b"a" + tail`` over a raw socket; the server may answer (and close)
    before it has all of it, so stop sending as soon as an answer is readable."""
    length = len(body_head) + filler + len(body_tail)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        # A token the load never used: with --rate-limit, the load's own token may still be held back.
        f"Authorization: Bearer {TOKEN}-hostile\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    chunk = b"a" * MiB
    sent = 0
    note = ""
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=30) as s:
        try:
            s.sendall(head + body_head)
            left = filler
            while left > 0:
                if select.select([s], [], [], 0)[0]:
                    note = "answered before the whole body was sent"
                    break
                piece = chunk if left >= len(chunk) else chunk[:left]
                s.sendall(piece)
                sent += len(piece)
                left -= len(piece)
            else:
                s.sendall(body_tail)
        except (BrokenPipeError, ConnectionResetError) as exc:
            note = f"send stopped: {exc.__class__.__name__}"
        answer = b""
        try:
            while b"\r\n" not in answer and len(answer) < 65536:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError, OSError) as exc:
            note = (note + "; " if note else "") + f"read failed: {exc.__class__.__name__}"
    m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return {
        "path": path,
        "bytes": length,
        "filler_sent": sent,
        "status": int(m.group(1)) if m else None,
        "seconds": round(time.monotonic() - started, 2),
        "note": note,
    }


def rejected_bodies(port: int) -> list[dict[str, Any]]:
    results = []
    for i in range(4):
        head = json.dumps({"model": "openai/gpt-image-1", "prompt": "@"}).split('"@"')[0].encode() + b'"'
        tail = f' {i}"}}'.encode()  # the prompt: 40 MiB of "a", then a number
        outcome = send_big(port, "/v3/images/generations", head, HOSTILE_BYTES, tail)
        outcome["expected"] = "413"
        outcome["ok"] = outcome["status"] == 413
        results.append(outcome)
    for i in range(4):
        head = json.dumps({"model": "openai/gpt-image-1", "prompt": f"edit {i}", "images": "@"}).split('"@"')[0]
        outcome = send_big(port, "/v3/images/edits", head.encode() + b'"', HOSTILE_BYTES, b'"}')
        outcome["expected"] = "4xx"
        outcome["ok"] = outcome["status"] is not None and 400 <= outcome["status"] < 500
        results.append(outcome)
    return results


# -- the run ------------------------------------------------------------------------------------------------


def window_max(samples: list[dict[str, Any]], start: float, end: float) -> int | None:
    values = [s["kib"] for s in samples if start <= s["t"] < end]
    return max(values) if values else None


def slope_mib_per_s(samples: list[dict[str, Any]], start: float, end: float) -> float | None:
    """Least-squares growth rate of RSS over [start, end): a leak shows as a steady positive slope even when
    the plateau check's relative margin (10% of a large RSS) hides it."""
    points = [(s["t"], s["kib"] / 1024) for s in samples if start <= s["t"] < end]
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_m = sum(m for _, m in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return round(sum((t - mean_t) * (m - mean_m) for t, m in points) / spread, 2) if spread else None


def soak(
    report: dict[str, Any], command: list[str], port: int, seconds: int, connections: int, tokens: int, limited: bool
) -> str | None:
    """Run the server, the load and the rejected bodies, filling ``report``; the reason it stopped early, if so."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        sampler: Sampler | None = None
        failure: str | None = None
        try:
            report["startup_s"] = round(wait_healthy(proc, port), 2)
            report["preflight_statuses"] = preflight(port)
            sampler = Sampler(proc.pid)
            start_kib = rss_kib(proc.pid)
            sampler.phase = "load"
            sampler.start()
            load = run_wrk(port, seconds, connections, tokens)
            sampler.phase = "after-load"
            if proc.poll() is not None:
                raise RuntimeError(f"the server died during the load (status {proc.returncode})")
            load_samples = sampler.of("load")
            t0 = load_samples[0]["t"] if load_samples else 0.0
            t_end = load_samples[-1]["t"] + 0.5 if load_samples else 0.0
            window = 10.0 if seconds >= 20 else seconds / 2
            last = window_max(load_samples, t_end - window, t_end)
            previous = window_max(load_samples, t_end - 2 * window, t_end - window)
            peak = max([s["kib"] for s in load_samples] + [start_kib or 0])
            allowed = None if previous is None else max(previous * PLATEAU_RATIO, PLATEAU_SLACK_MIB * 1024)
            plateaus = previous is not None and last is not None and last - previous <= allowed
            report["load"] = {
                **{k: v for k, v in load.items() if k != "output"},
                "rss_start_mib": mib(start_kib),
                "rss_peak_mib": mib(peak),
                "rss_end_mib": mib(load_samples[-1]["kib"]) if load_samples else None,
                "plateau_window_s": window,
                "rss_last_window_max_mib": mib(last),
                "rss_previous_window_max_mib": mib(previous),
                "rss_slope_last_2_windows_mib_per_s": slope_mib_per_s(load_samples, t_end - 2 * window, t_end),
                "rss_curve": [{"t": round(s["t"] - t0, 1), "mib": mib(s["kib"])} for s in load_samples],
                "wrk_output": load["output"],
            }
            allowed_statuses = {200, 429} if limited else {200}
            checks = {
                f"peak RSS < {PEAK_LIMIT_MIB} MiB": peak < PEAK_LIMIT_MIB * 1024,
                f"every answer {' or '.join(map(str, sorted(allowed_statuses)))}": bool(load["statuses"])
                and set(load["statuses"]) <= allowed_statuses
                and load["socket_errors"]["timeout"] == 0,
                f"RSS plateaus (last {window:g} s max within max(10%, {PLATEAU_SLACK_MIB} MiB) of the {window:g} s "
                "before)": plateaus,
            }

            sampler.phase = "rejected-bodies"
            before = rss_kib(proc.pid)
            outcomes = rejected_bodies(port)
            time.sleep(1.0)
            after = rss_kib(proc.pid)
            phase_peak = max([s["kib"] for s in sampler.of("rejected-bodies")] + [before or 0, after or 0])
            report["rejected_bodies"] = {
                "rss_before_mib": mib(before),
                "rss_after_mib": mib(after),
                "rss_phase_peak_mib": mib(phase_peak),
                "requests": outcomes,
            }
            checks[f"rejected 40 MiB bodies answered as expected ({sum(o['ok'] for o in outcomes)}/8)"] = all(
                o["ok"] for o in outcomes
            )
            checks[f"RSS after rejected bodies within {REJECTED_SLACK_MIB} MiB of before"] = (
                before is not None and after is not None and after - before <= REJECTED_SLACK_MIB * 1024
            )
            report["checks"] = checks
        except (RuntimeError, OSError, http.client.HTTPException, subprocess.TimeoutExpired) as exc:
            failure = f"{exc.__class__.__name__}: {exc}"
            report["error"] = failure
        finally:
            report["server_stop"] = stop_server(proc)  # first, so nothing below can leave the server running
            if sampler is not None:
                sampler.stop()
                report["rss_samples"] = [
                    {"t": s["t"], "phase": s["phase"], "mib": mib(s["kib"])} for s in sampler.samples
                ]
            log.seek(0)
            report["server_log_tail"] = log.read()[-4000:].decode(errors="replace")
    return failure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--quick", action="store_true", help="10 s of load: a smoke run")
    parser.add_argument(
        "--rate-limit", type=int, metavar="PER_SECOND", help="serve with --rate-limit PER_SECOND (429s then expected)"
    )
    parser.add_argument(
        "--tokens", type=int, default=0, help="distinct bearer tokens, three requests in four (0: one token)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json", help="where to write the results")
    args = parser.parse_args(argv)
    seconds = 10 if args.quick else args.seconds
    if not 2 <= seconds <= 3600 or not 1 <= args.connections <= 1000:
        parser.error("need --seconds in 2..3600 and --connections in 1..1000")
    if not 0 <= args.tokens <= 1_000_000 or (args.rate_limit is not None and args.rate_limit < 1):
        parser.error("need --tokens in 0..1000000 and --rate-limit >= 1")
    if shutil.which("wrk") is None:
        print("soak: wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    problems = check_mix_against_catalog()
    if problems:
        print("soak: the load mix does not fit the catalog:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2

    port = free_port()
    command = [sys.executable, "-m", "edenfake", "serve", "--quiet", "--host", HOST, "--port", str(port)]
    if args.rate_limit is not None:
        command += ["--rate-limit", str(args.rate_limit)]
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "server_command": " ".join(command[1:]),
        "seconds": seconds,
        "connections": args.connections,
        "rate_limit": args.rate_limit,
        "tokens": args.tokens,
        "mix": {**MIX, "cycle": "per wrk thread: every 10th request is the n=10 one; else b64 / url alternately"},
    }
    failure = soak(report, command, port, seconds, args.connections, args.tokens, args.rate_limit is not None)
    tail = report["server_log_tail"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"\nwritten: {args.out}")
    if failure:
        print(f"soak: could not finish: {failure}", file=sys.stderr)
        if tail.strip():
            print(f"server output (tail):\n{tail}", file=sys.stderr)
        return 2
    return 0 if all(report["checks"].values()) else 1


def print_table(report: dict[str, Any]) -> None:
    limit = f", --rate-limit {report['rate_limit']}" if report["rate_limit"] is not None else ""
    tokens = f", {report['tokens']} distinct tokens" if report["tokens"] else ""
    print(f"\nedenfake soak: {report['seconds']} s at {report['connections']} connections (wrk -t1){limit}{tokens}")
    if "preflight_statuses" in report:
        shown = ", ".join(f"{k}: {v}" for k, v in report["preflight_statuses"].items())
        print(f"  preflight           {shown}")
    load = report.get("load")
    if load:
        lat = load["latency_ms"]
        print(f"  requests            {load['requests']} ({load['requests_per_s']} req/s)")
        print(f"  latency ms          p50 {lat['50']}  p90 {lat['90']}  p99 {lat['99']}")
        print(f"  non-2xx/3xx         {load['non_2xx_3xx']}   statuses {load['statuses']}")
        if report["tokens"]:
            print(f"  distinct tokens     {min(report['tokens'], load['distinct_token_requests'])} sent")
        print(f"  socket errors       {load['socket_errors']}")
        print(f"  RSS start           {load['rss_start_mib']} MiB")
        print(f"  RSS peak            {load['rss_peak_mib']} MiB")
        w = load["plateau_window_s"]
        print(
            f"  RSS max last {w:g} s   {load['rss_last_window_max_mib']} MiB   "
            f"(the {w:g} s before: {load['rss_previous_window_max_mib']} MiB)"
        )
        print(f"  RSS growth rate     {load['rss_slope_last_2_windows_mib_per_s']} MiB/s over the last {2 * w:g} s")
    rejected = report.get("rejected_bodies")
    if rejected:
        print(
            f"  rejected bodies     RSS {rejected['rss_before_mib']} -> {rejected['rss_after_mib']} MiB "
            f"(phase peak {rejected['rss_phase_peak_mib']} MiB)"
        )
        for o in rejected["requests"]:
            note = f"  [{o['note']}]" if o["note"] else ""
            print(f"    {o['path']:24} -> {o['status']} (expected {o['expected']}) {o['seconds']} s{note}")
    for name, ok in report.get("checks", {}).items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    if "error" in report:
        print(f"  ERROR {report['error']}")
    print(f"  server              {report['server_stop']}")


if __name__ == "__main__":
    sys.exit(main())
