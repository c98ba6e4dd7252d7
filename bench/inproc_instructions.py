"""The in-process figures of ``run.py --only inproc`` counted in instructions (valgrind's callgrind) instead of
timed: the openai SDK through ``edenfake.mock()`` against the same SDK over a transport answering fixed bytes
of a real answer, for a repeated request and for a prompt of its own per call (a new 1024x1024 render each).

A count is the same run after run whatever else the machine does, where a time on a shared machine moves by
tens of percent. Each side runs in a process of its own twice, with ``--calls`` calls and with none (both after
the same warm-up), and the difference divided by ``--calls`` is one call's count: start-up cancels out. C code
that uses vector instructions (SHA-256, base64) may count differently than it runs; the Python code, the JSON
and zlib count as they run.

    python bench/inproc_instructions.py              # 100 calls a side, about 10 minutes
    python bench/inproc_instructions.py --calls 50

Needs valgrind (``apt-get install valgrind``) and the bench extra; writes bench/results/inproc_instructions.json.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import record, write_results

#: the targets of the in-process figures, as in run.py's inproc group
TARGETS = {False: 1.2, True: 2.0}
_WARM = 30


def _calls(side: str, unique: bool, calls: int) -> None:
    """What one counted process does: ``_WARM`` calls, then ``calls`` more (see the module's docstring)."""
    import httpx
    import httpx2
    import openai

    import edenfake

    base = "https://api.edenai.run/v3"
    request = {"model": "openai/gpt-image-1", "size": "1024x1024", "quality": "low"}
    with edenfake.mock(clock=1):
        body = httpx.post(
            f"{base}/images/generations",
            json={**request, "prompt": "floor answer"},
            headers={"Authorization": "Bearer bench-token"},
        ).content
    if side == "mock":
        edenfake.mock(clock=1, assert_all_faults_used=False).start()
        client = openai.OpenAI(api_key="t", base_url=base, max_retries=0)
    else:

        def constant(_: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, content=body, headers={"content-type": "application/json"})

        floor = httpx2.Client(transport=httpx2.MockTransport(constant))
        client = openai.OpenAI(api_key="t", base_url=base, max_retries=0, http_client=floor)
    seq = itertools.count()

    def call() -> None:
        prompt = f"a red fox in the snow, call {next(seq)}" if unique else "a red fox in the snow"
        client.images.generate(prompt=prompt, **request)  # type: ignore[arg-type]

    for _ in range(_WARM):
        call()
    # What start-up and the warm-up left is frozen out of the collector's reach, in the run of none as in the
    # run of N: a full collection of it (some 25 M instructions, landing in one run and not the other) moved a
    # side's count per call by 0.3-1 M from run to run. The calls' own garbage is still collected, and counted.
    gc.collect()
    gc.freeze()
    for _ in range(calls):
        call()


def _count(side: str, unique: bool, calls: int) -> int:
    """Instructions of a whole process that makes ``calls`` counted calls."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(out) / 'callgrind.out'}",
                sys.executable,
                __file__,
                "--child",
                side,
                "unique" if unique else "repeated",
                str(calls),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the {side} run failed: {done.stderr.strip().splitlines()[-3:]}")
    return int(found[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="counted calls per side (10..5000)")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "KIND", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, kind, calls = args.child
        _calls(side, kind == "unique", int(calls))
        return
    if not 10 <= args.calls <= 5000:
        parser.error(f"--calls must be from 10 to 5000, got {args.calls}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    for unique in (False, True):
        kind = "a prompt of its own per call" if unique else "a repeated request"
        per_call = {
            side: (_count(side, unique, args.calls) - _count(side, unique, 0)) / args.calls
            for side in ("mock", "floor")
        }
        target = TARGETS[unique]
        record(
            "inproc-ir",
            f"openai SDK via mock(), {kind}",
            per_call["mock"] / 1e6,
            "M instr",
            per_call["floor"] / 1e6,
            f"<= {target}x floor",
            per_call["mock"] <= target * per_call["floor"],
            clock="instructions (callgrind), one call: a run of N calls less a run of none",
            baseline_is="same client and calls, a transport answering fixed bytes of a real answer",
        )
    print(f"# written {write_results('inproc_instructions', calls=args.calls)}")


if __name__ == "__main__":
    main()
