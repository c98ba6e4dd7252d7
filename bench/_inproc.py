"""In one process: rendering against Pillow encoding a flat image, and the openai SDK (and httpx) through
``edenfake.mock()`` against the same client over a transport answering fixed bytes of a real answer."""

from __future__ import annotations

import io
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

from _harness import AUTH, record, spread, timeit

VALID = {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", "size": "1024x1024", "quality": "low"}
URL = "https://api.edenai.run/v3/images/generations"


def bench_images(quick: bool) -> None:
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


def bench_inproc(quick: bool) -> None:
    """The openai SDK (and httpx) through ``edenfake.mock()`` against the same client over a constant-answer
    transport, for a repeated request and for a prompt of its own on every call (a new 1024x1024 render)."""
    import httpx
    import httpx2
    import openai

    import edenfake

    seq = itertools.count()
    with edenfake.mock(clock=1):
        # The floor answers a real answer of the fake, so both sides parse the same JSON.
        body = httpx.post(URL, json={**VALID, "prompt": "floor answer"}, headers=AUTH).content
    eden = edenfake.mock(clock=1, assert_all_faults_used=False)
    mocked_sdk = openai.OpenAI(api_key="t", base_url="https://api.edenai.run/v3", max_retries=0)
    mocked_httpx = httpx.Client(headers=AUTH)

    def constant(request: Any) -> Any:
        module = httpx2 if isinstance(request, httpx2.Request) else httpx
        return module.Response(200, content=body, headers={"content-type": "application/json"})

    floor_sdk = openai.OpenAI(
        api_key="t",
        base_url="https://api.edenai.run/v3",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(constant)),
    )
    floor_httpx = httpx.Client(headers=AUTH, transport=httpx.MockTransport(constant))

    def prompt(unique: bool) -> str:
        return f"a red fox in the snow, call {next(seq)}" if unique else VALID["prompt"]

    def sdk(client: Any, unique: bool) -> Callable[[], None]:
        def call() -> None:
            client.images.generate(model=VALID["model"], prompt=prompt(unique), size="1024x1024", quality="low")

        return call

    def raw(client: Any, unique: bool) -> Callable[[], None]:
        def call() -> None:
            client.post(URL, json={**VALID, "prompt": prompt(unique)}).json()

        return call

    n = 200 if quick else 900
    rounds, per_round = 9, max(20, n // 9)

    def cpu(call: Callable[[], None]) -> float:
        # Every side runs in this thread (the mock answers in the caller's thread): its CPU time is the cost,
        # and time spent descheduled by other work on the machine is left out.
        return timeit(call, repeat=1, number=per_round, clock=time.thread_time)

    for unique in (False, True):
        kind = "a prompt of its own per call" if unique else "a repeated request"
        sides = {
            "sdk": sdk(mocked_sdk, unique),
            "httpx": raw(mocked_httpx, unique),
            "floor_sdk": sdk(floor_sdk, unique),
            "floor_httpx": raw(floor_httpx, unique),
        }
        samples: dict[str, list[float]] = {name: [] for name in sides}
        # Rounds interleaved (mock, floor, mock, floor...): a burst of load on the shared machine hits both sides.
        for index in range(rounds + 1):
            eden.start()
            try:
                taken = {name: cpu(sides[name]) for name in ("sdk", "httpx")}
                eden.calls.clear()
            finally:
                eden.stop(check=False)
            taken.update({name: cpu(sides[name]) for name in ("floor_sdk", "floor_httpx")})
            if index:  # the first round warms up
                for name, seconds in taken.items():
                    samples[name].append(seconds)
        for client, target in (("sdk", 2.0 if unique else 1.2), ("httpx", None)):
            mine, floor = samples[client], samples[f"floor_{client}"]
            t_mine, t_floor = statistics.median(mine), statistics.median(floor)
            record(
                "inproc",
                f"{'openai SDK' if client == 'sdk' else 'httpx'} via mock(), {kind}",
                t_mine * 1000,
                "ms",
                t_floor * 1000,
                f"<= {target}x floor" if target else "",
                None if target is None else t_mine <= target * t_floor,
                ratio_per_round=spread([a / b for a, b in zip(mine, floor, strict=True)]),
                clock="this thread's CPU time",
                baseline_is="same client and calls, a transport answering fixed bytes of a real answer",
            )
