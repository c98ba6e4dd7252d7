"""The cost of sessions (``X-Edenfake-Session``) on the server's throughput, as ratios measured in one run.

    python bench/sessions.py                      # 3 rounds of 5 s per mode, about a minute
    python bench/sessions.py --old /tmp/old-rev   # and the default session beside an older checkout's server

One ``edenfake serve`` (plain: asyncio and h11) loaded by ``wrk -t1 -c4`` with one constant dall-e-2 256x256
request, in three modes, round after round, the order rotating: ``none`` (no header: the default session),
``one`` (every request under one session) and ``many`` (requests spread round-robin over 100 active sessions,
all opened before the first round). With ``--old DIR``, the same body without the header against that
checkout's server too (``old``): the default session's cost against a fake without sessions. Figures:
req/s and the server's CPU per request; ratios against ``none`` of the same run. Writes
``bench/results/sessions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from _harness import AUTH, PATH, ROOT, cpu_seconds, ports, record, spread, wait_port, write_results

BODY = {"model": "openai/dall-e-2", "prompt": "a red fox", "size": "256x256", "response_format": "b64_json"}
SESSIONS = 100


def _script(mode: str) -> str:
    header = {"none": "", "one": 'headers["X-Edenfake-Session"] = "bench-0"', "many": ""}[mode]
    spread_over = f'headers["X-Edenfake-Session"] = "bench-" .. (counter % {SESSIONS})' if mode == "many" else header
    return textwrap.dedent(f"""
        local counter = 0
        local body = {json.dumps(json.dumps(BODY))}
        function request()
          counter = counter + 1
          local headers = {{}}
          headers["Content-Type"] = "application/json"
          headers["Authorization"] = "{AUTH["Authorization"]}"
          {spread_over}
          return wrk.format("POST", "{PATH}", headers, body)
        end
    """)


def _wrk(port: int, mode: str, seconds: int) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_script(mode))
    try:
        args = ["wrk", "-t1", "-c4", f"-d{seconds}s", "-s", f.name, f"http://127.0.0.1:{port}{PATH}"]
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(f.name)
    rps = float(out.split("Requests/sec:")[1].split()[0])
    total = int(out.split(" requests in")[0].split()[-1])
    if "Non-2xx" in out:
        raise SystemExit(f"{mode}: the server answered errors:\n{out}")
    return rps, total


def _serve(port: int, checkout: Path | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    args = [sys.executable, "-m", "edenfake", "serve", "--port", str(port), "--quiet", "--loop", "asyncio"]
    return subprocess.Popen(
        [*args, "--http", "h11"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=checkout or ROOT
    )


def _clear_journals(port: int, mode: str) -> None:
    names = [None] if mode in ("none", "old") else [f"bench-{i}" for i in range(SESSIONS if mode == "many" else 1)]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Content-Type": "application/json"}) as client:
        for name in names:
            headers = {} if name is None else {"X-Edenfake-Session": name}
            client.delete("/_edenfake/calls", headers=headers).raise_for_status()


def _default_path_cost() -> None:
    """What sessions add to a request without the header, in process (steadier than req/s on a shared
    machine): the header lookup, and each read of a state attribute through the session's State rather than
    a plain attribute, times the reads one answer makes; against the time of one in-process answer."""
    import timeit

    from edenfake import EdenFake, _sessions
    from edenfake._wire import FakeRequest

    fake = EdenFake()
    headers = [("authorization", AUTH["Authorization"]), ("content-type", "application/json"), ("host", "x")]
    request = FakeRequest("POST", PATH, headers, json.dumps(BODY).encode())
    fake.answer(request)
    reads = 0
    plain_get = _sessions.PerSession.__get__

    def counted(self: _sessions.PerSession[object], obj: object, objtype: object = None) -> object:
        nonlocal reads
        reads += 1
        return plain_get(self, obj, objtype)  # type: ignore[call-overload]

    _sessions.PerSession.__get__ = counted  # type: ignore[assignment,method-assign]
    fake.answer(request)
    _sessions.PerSession.__get__ = plain_get  # type: ignore[method-assign]

    class Plain:
        calls = None

    plain = Plain()
    n = 100_000
    choose = min(timeit.repeat(lambda: fake.sessions.chosen(request), number=n, repeat=5)) / n
    read = min(timeit.repeat(lambda: fake.calls, number=n, repeat=5)) / n
    bare = min(timeit.repeat(lambda: plain.calls, number=n, repeat=5)) / n
    answer = min(timeit.repeat(lambda: fake.answer(request), number=200, repeat=5)) / 200
    added = choose + reads * (read - bare)
    record("sessions", f"default session: added per request ({reads} reads)", added * 1e6, "us", answer * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--old", type=Path, default=None, help="another checkout, served beside (mode 'old')")
    args = parser.parse_args()
    port, old_port = ports(2)
    servers = {"new": _serve(port, None)}
    if args.old is not None:
        servers["old"] = _serve(old_port, args.old)
    try:
        wait_port(port)
        if args.old is not None:
            wait_port(old_port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=30) as client:
            for i in range(SESSIONS):  # every session open (and its image rendered) before the first round
                client.post(PATH, json=BODY, headers={"X-Edenfake-Session": f"bench-{i}"}).raise_for_status()
            client.post(PATH, json=BODY).raise_for_status()
        modes = ["none", "one", "many", *(["old"] if args.old is not None else [])]
        rps: dict[str, list[float]] = {m: [] for m in modes}
        cpu: dict[str, list[float]] = {m: [] for m in modes}
        for r in range(args.rounds):
            for mode in modes[r % len(modes) :] + modes[: r % len(modes)]:
                target, pid = (old_port, servers["old"].pid) if mode == "old" else (port, servers["new"].pid)
                _clear_journals(target, mode)  # each run starts from empty journals, whatever ran before
                before = cpu_seconds(pid)
                got, total = _wrk(target, "none" if mode == "old" else mode, args.seconds)
                rps[mode].append(got)
                cpu[mode].append((cpu_seconds(pid) - before) / max(total, 1) * 1e6)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as client:
            listed = client.get("/_edenfake/sessions").json()
        assert listed["count"] == SESSIONS and listed["dropped"] == 0, listed
        base_rps, base_cpu = statistics.median(rps["none"]), statistics.median(cpu["none"])
        for mode in modes:
            record("sessions", f"{mode}: req/s", statistics.median(rps[mode]), "req/s", base_rps, **spread(rps[mode]))
            record("sessions", f"{mode}: server CPU per request", statistics.median(cpu[mode]), "us", base_cpu)
        _default_path_cost()
        out = write_results("sessions", rounds=args.rounds, seconds=args.seconds, sessions=SESSIONS)
        print(f"wrote {out}")
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(10)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
