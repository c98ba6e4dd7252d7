"""requests and aiohttp through ``edenfake.mock()``, in process, against the same library answered a constant
body (a real answer of the fake) by ``responses`` / ``aioresponses``: the floor of any in-process mock.

    python bench/inproc_clients.py                 # 9 rounds a side, interleaved (A B A B)
    python bench/inproc_clients.py --quick
    python bench/run.py --only clients             # the same, in the whole table

Each round makes ``per_round`` calls through the mock, then as many through the floor (the mock stopped while
the floor runs, and the other way round), for a repeated request and for a prompt of its own per call (a new
1024x1024 render each, which the floor does not pay). Timed in this thread's CPU time: both sides, the event
loop of the aiohttp ones too, run in the calling thread (a generation of this size is answered on the loop).
The target, <= 1.5x the floor, is for the repeated request. Writes bench/results/inproc_clients.json (or
--tag); needs the bench extra (requests, aiohttp, responses, aioresponses). Makes no network call.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

from _harness import AUTH, record, spread, write_results

URL = "https://api.edenai.run/v3/images/generations"
VALID = {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "size": "1024x1024", "quality": "low"}
TARGET = 1.5


def _versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in ("requests", "responses", "aiohttp", "aioresponses")}


def bench_clients(quick: bool) -> None:
    import aiohttp
    import requests
    import responses
    from aioresponses import aioresponses

    import edenfake

    with edenfake.mock(clock=1):
        body = requests.post(URL, json={**VALID, "prompt": "floor answer"}, headers=AUTH).content
    seq = itertools.count()
    rounds = 5 if quick else 9
    per_round = 20 if quick else 60

    def prompt(unique: bool) -> str:
        return f"a red fox in the snow, call {next(seq)}" if unique else VALID["prompt"]

    session = requests.Session()
    session.headers.update(AUTH)

    def requests_calls(unique: bool) -> Callable[[], None]:
        def calls() -> None:
            for _ in range(per_round):
                session.post(URL, json={**VALID, "prompt": prompt(unique)}).json()

        return calls

    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(_session(aiohttp))

    def aiohttp_calls(unique: bool) -> Callable[[], None]:
        async def calls() -> None:
            for _ in range(per_round):
                async with client.post(URL, json={**VALID, "prompt": prompt(unique)}) as r:
                    await r.json()

        return lambda: loop.run_until_complete(calls())

    def cpu(calls: Callable[[], None]) -> float:
        started = time.thread_time()
        calls()
        return (time.thread_time() - started) / per_round

    floor_requests = responses.RequestsMock(assert_all_requests_are_fired=False)
    floor_aiohttp = aioresponses()
    aiohttp_floor_ok = _aioresponses_works(loop, client, floor_aiohttp, body)
    eden = edenfake.mock(clock=1, assert_all_faults_used=False)
    try:
        for unique in (False, True):
            kind = "a prompt of its own per call" if unique else "a repeated request"
            samples: dict[str, list[float]] = {"requests": [], "floor_requests": [], "aiohttp": [], "floor_aiohttp": []}
            for index in range(rounds + 1):  # the first round warms up
                taken: dict[str, float] = {}
                with eden:
                    taken["requests"] = cpu(requests_calls(unique))
                    taken["aiohttp"] = cpu(aiohttp_calls(unique))
                    eden.calls.clear()
                with floor_requests:  # it forgets its answers on exit: given again each round
                    floor_requests.add(responses.POST, URL, body=body, content_type="application/json")
                    taken["floor_requests"] = cpu(requests_calls(unique))
                if aiohttp_floor_ok:
                    with floor_aiohttp:
                        floor_aiohttp.post(URL, body=body, content_type="application/json", repeat=True)
                        taken["floor_aiohttp"] = cpu(aiohttp_calls(unique))
                if index:
                    for name, seconds in taken.items():
                        samples[name].append(seconds)
            for library, floor_name in (("requests", "responses"), ("aiohttp", "aioresponses")):
                mine, floor = samples[library], samples[f"floor_{library}"]
                t_mine = statistics.median(mine)
                t_floor = statistics.median(floor) if floor else None
                target = f"<= {TARGET}x floor" if not unique else ""
                ok = None if unique or t_floor is None else t_mine <= TARGET * t_floor
                extra: dict[str, Any] = {}
                if floor:
                    extra["ratio_per_round"] = spread([a / b for a, b in zip(mine, floor, strict=True)])
                else:
                    extra["floor_missing"] = (
                        f"aioresponses {_versions()['aioresponses']} cannot answer on aiohttp "
                        f"{_versions()['aiohttp']} (it builds ClientResponse without stream_writer)"
                    )
                record(
                    "clients",
                    f"{library} via mock(), {kind}",
                    t_mine * 1000,
                    "ms",
                    None if t_floor is None else t_floor * 1000,
                    target,
                    ok,
                    clock="this thread's CPU time",
                    baseline_is=f"the same {library} calls answered a real answer's bytes by {floor_name}",
                    versions=_versions(),
                    **extra,
                )
    finally:
        loop.run_until_complete(client.close())
        loop.close()
        session.close()


async def _session(aiohttp: Any) -> Any:
    return aiohttp.ClientSession(headers=AUTH)


def _aioresponses_works(loop: asyncio.AbstractEventLoop, client: Any, floor: Any, body: bytes) -> bool:
    async def probe() -> None:
        async with client.post(URL, json=VALID) as r:
            await r.read()

    with floor:
        floor.post(URL, body=body, content_type="application/json")
        try:
            loop.run_until_complete(probe())
        except TypeError:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a smoke check)")
    parser.add_argument("--tag", default="inproc_clients", help="name of the results file (bench/results/TAG.json)")
    args = parser.parse_args()
    bench_clients(args.quick)
    out = write_results(args.tag, quick=args.quick, **_versions())
    print(f"# written {out}")


if __name__ == "__main__":
    main()
