"""What the tests share: the token and frozen clock they use, image and data-URL builders, strict JSON, the
launchers of subprocesses (a pytest run of sample test files, ``python -m edenfake``), and a backlog of slow jobs
that a run without xdist workers starts early."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from PIL import Image

#: the clock every fake in the tests is frozen at (byte-identical answers)
FROZEN = 1_779_792_103
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def png(width: int = 64, height: int = 64, *, mode: str = "RGB", colour: Any = (10, 120, 200)) -> bytes:
    """A flat PNG of this size, mode and colour."""
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return out.getvalue()


def encoded(fmt: str, width: int = 64, height: int = 64) -> bytes:
    """A flat image in Pillow's format ``fmt`` ("JPEG", "WEBP", "GIF", ...)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, fmt)
    return out.getvalue()


#: a fully transparent 64x64 mask (edit everywhere)
MASK = png(mode="RGBA", colour=(0, 0, 0, 0))


def data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def decode_image(data: bytes) -> Image.Image:
    """The image in ``data``, fully decoded (Pillow raises on anything broken)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def decode_item(item: dict[str, Any]) -> Image.Image:
    """The image of one answer item's ``b64_json``."""
    return decode_image(base64.b64decode(item["b64_json"]))


def _refuse(token: str) -> Any:
    raise ValueError(f"not standard JSON: {token}")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text}")
    return value


def strict_json(text: str | bytes) -> Any:
    """``text`` as standard JSON, or ValueError: NaN, Infinity, -Infinity and 1e400 are refused."""
    return json.loads(text, parse_constant=_refuse, parse_float=_finite)


@contextmanager
def chromium_context(args: Sequence[str] = (), **options: Any) -> Iterator[Any]:
    """A headless Chromium (Debian's) with a profile of its own, as playwright's persistent context: the
    CHROMIUM_ARGS and ``args``; ``options`` go to ``launch_persistent_context`` (a viewport, say). A skip,
    saying what to install, where Chromium or playwright is missing."""
    import tempfile

    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=[*CHROMIUM_ARGS, *args], **options
        )
        try:
            yield context
        finally:
            context.close()


def chromium_or_skip() -> str:
    """The path of Debian's Chromium, or a skip saying what to install (it, or playwright's Python package)."""
    import shutil

    import pytest

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no Chromium: apt-get install chromium (Debian's package; no downloaded browser is used)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright's Python package is not installed: pip install playwright")
    return chromium


def probe_while(work: Callable[[], object], probe: Callable[[], object]) -> list[float]:
    """Run ``work`` in a thread and ``probe`` again and again until it ends: the seconds each probe took."""
    worker = threading.Thread(target=work)
    worker.start()
    waits = []
    while worker.is_alive():
        started = time.perf_counter()
        probe()
        waits.append(time.perf_counter() - started)
    worker.join()
    return waits


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI request, however many messages it came in."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


#: Debian's Chromium, headless, for the console's browser tests and its benchmark. Without the
#: background-networking switches Chromium calls home, which a closed network answers slowly.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: The plugins a nested pytest run may load, by the names ``-p`` takes. ``run_pytest`` switches off the
#: autoloading of every installed plugin (hypothesis, schemathesis, anyio, asyncio, respx, xdist: a run of one
#: test of the edenfake fixture took 7.3 s of CPU with all of them, 2.8 s with edenfake's alone, on a busy 2-core
#: machine) and loads only those the run names.
EDENFAKE_PLUGIN = "edenfake.plugin"
XDIST = "xdist.plugin"
HYPOTHESIS = "_hypothesis_pytestplugin"

#: ``EDENFAKE_FUZZ=long`` (CI's second run) draws many more examples of each property and fuzzes longer
LONG_FUZZ = os.environ.get("EDENFAKE_FUZZ") == "long"


def examples(default: int, long: int) -> int:
    """How many examples a property draws: ``default`` in the default run (enough to catch a broken rule, the
    suite staying near two minutes), ``long`` under ``EDENFAKE_FUZZ=long``."""
    return long if LONG_FUZZ else default


#: a pytest run in a subprocess that takes longer than this is killed, and its test fails
PYTEST_TIMEOUT = 120.0
#: hypothesis' directory, shared with the runs in subprocesses (their directories are new each time): without
#: it each run that draws text recomputes hypothesis' table of UTF-8 characters, seconds of CPU
HYPOTHESIS_HOME = Path(__file__).resolve().parent.parent / ".hypothesis"
#: the arguments of a run that starts xdist's workers (they are processes of their own)
_WORKER_ARGS = ("-n", "--numprocesses", "--dist", "--tx")


def run_pytest(
    pytester: pytest.Pytester, *args: str, plugins: Sequence[str] = (EDENFAKE_PLUGIN,), new_process: bool = False
) -> pytest.RunResult:
    """``pytest -q args`` in ``pytester``'s directory, with pytest's own plugins and ``plugins`` only (no cache) and
    hypothesis' directory shared; xdist's workers inherit the same switch and ``-p`` options.

    The run is in this process (``runpytest_inprocess``: about a second of CPU less than a new interpreter, and the
    modules it imports are dropped after it), unless it starts xdist's workers, loads hypothesis (whose settings
    are the process's), or ``new_process`` asks for a fresh interpreter (a test of what a run imports); then it is
    a subprocess, killed after PYTEST_TIMEOUT."""
    loaded = [arg for name in plugins for arg in ("-p", name)]
    starts_workers = any(a.split("=")[0] in _WORKER_ARGS or re.fullmatch(r"-n\S+", a) for a in args)
    in_process = not (new_process or starts_workers or HYPOTHESIS in plugins)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        env.setenv("HYPOTHESIS_STORAGE_DIRECTORY", os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY", str(HYPOTHESIS_HOME)))
        if in_process:
            return pytester.runpytest_inprocess(*loaded, "-p", "no:cacheprovider", "-q", *args)
        return pytester.runpytest_subprocess(*loaded, "-p", "no:cacheprovider", "-q", *args, timeout=PYTEST_TIMEOUT)


#: a ``python`` run in a subprocess that takes longer than this is killed, and its test fails
PYTHON_TIMEOUT = 60.0


def run_python(
    *args: str, stdin: str | None = None, timeout: float = PYTHON_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``python args`` (``-c CODE``, ``-m edenfake ...``) in a subprocess, its output captured as text."""
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


#: the line ``edenfake serve`` and ``edenfake record`` print first, once they listen
BANNER_URL = re.compile(r" at (http://127\.0\.0\.1:\d+) ")
#: how long a command may take to print its banner, and to stop once signalled
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def start_cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """``python -m edenfake args`` (``serve`` or ``record`` on ``--port 0``) and the URL its banner names; ``env``
    is its environment (by default this process's).

    A command that prints no banner within START_TIMEOUT is killed, and the error shows the end of its stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edenfake", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    watchdog = threading.Timer(START_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        banner = proc.stdout.readline()
    finally:
        watchdog.cancel()
    match = BANNER_URL.search(banner)
    if match is None:
        proc.kill()
        _, err = proc.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError(f"no URL in {banner[:500]!r}; stderr ends {err[-2000:]!r}")
    return proc, match.group(1)


def stop_cli(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[str, str]:
    """Send ``sig`` (Ctrl-C by default) and wait for the command to stop: what it printed, stdout and stderr.

    One that is still running after STOP_TIMEOUT is killed, and the TimeoutExpired is raised."""
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


@contextmanager
def cli_running(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``start_cli(*args, env=env)``; on the way out the command is killed if the test left it running."""
    proc, url = start_cli(*args, env=env)
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=STOP_TIMEOUT)


def report_sections(output: str) -> dict[str, str]:
    """The "edenfake calls" (and "edenfake_server calls") sections of a pytest run's report, by the test named in
    the header before them."""
    found: dict[str, str] = {}
    test = None
    current: list[str] | None = None
    for line in output.splitlines():
        header = re.match(r"^_{3,} (?:ERROR at teardown of )?(\S+) _{3,}$", line)
        if header:
            test, current = header.group(1), None
            continue
        if re.match(r"^-{3,} edenfake(?:_server)? calls -{3,}$", line):
            current = []
            found[test or "?"] = ""
            continue
        if current is not None:
            if re.match(r"^(-{3,}|={3,}|_{3,}) ", line):
                current = None
                continue
            current.append(line)
            found[test or "?"] = "\n".join(current)
    return found


def journal_entry(call: Any) -> dict[str, Any]:
    """What the journal keeps of a call, less what differs between client libraries (their own headers) and
    between runs (time taken): the same request through any library journals the same entry."""
    kept = dataclasses.asdict(call)
    for name in ("headers", "duration"):
        kept.pop(name, None)
    return kept


class Backlog:
    """Named jobs (each a function of no argument) that any thread may work through, each run once: a test module's
    ``prestart`` (called by conftest as the collection ends, in a run without xdist workers) queues them on the
    run's background thread, so that the core the tests leave free runs them while the tests before the module
    run; the test that needs their results works through what is left beside it, and reads each job's outcome from
    ``done``."""

    def __init__(self, jobs: dict[str, Callable[[], object]]) -> None:
        self._pending = list(jobs.items())
        self._lock = threading.Lock()
        self._stopped = False
        self.done: dict[str, Future[object]] = {name: Future() for name in jobs}

    def work(self) -> None:
        """Run pending jobs, one after another, until none is left (or ``stop`` was called)."""
        while True:
            with self._lock:
                if self._stopped or not self._pending:
                    return
                name, job = self._pending.pop(0)
            future = self.done[name]
            try:
                future.set_result(job())
            except BaseException as exc:  # the test that reads it fails with it
                future.set_exception(exc)

    def start(self) -> None:
        """Queue ``work`` on the background thread: one thread for the whole run, so that the early work of several
        modules runs one job at a time (a daemon: it never keeps the process alive)."""
        global _BACKGROUND
        with _BACKGROUND_LOCK:
            if _BACKGROUND is None:
                _BACKGROUND = queue.SimpleQueue()
                threading.Thread(target=_run_background, args=(_BACKGROUND,), name="backlog", daemon=True).start()
            _BACKGROUND.put(self.work)

    def stop(self) -> None:
        """No job starts after this (each pending one is cancelled); a job under way runs to its end."""
        with self._lock:
            self._stopped = True
            pending, self._pending = self._pending, []
        for name, _ in pending:
            self.done[name].cancel()


_BACKGROUND: queue.SimpleQueue[Callable[[], None]] | None = None
_BACKGROUND_LOCK = threading.Lock()


def _run_background(work: queue.SimpleQueue[Callable[[], None]]) -> None:
    while True:
        work.get()()


T = TypeVar("T")


class Early(Generic[T]):
    """One slow job of a test module, a function of a new directory: the module's ``prestart`` may ``queue`` it on
    the background thread (for a job that runs only processes of its own, in the environment the run started
    with); ``result`` takes the queued one's outcome (running it here if the background thread has not started
    it), else runs it here, in ``where``."""

    def __init__(self, job: Callable[[Path], T]) -> None:
        self.job = job
        self._queued: Backlog | None = None

    def queue(self, config: pytest.Config) -> None:
        where = Path(tempfile.mkdtemp(prefix="edenfake-early-"))
        self._queued = Backlog({"job": partial(self.job, where)})
        self._queued.start()
        config.add_cleanup(lambda: shutil.rmtree(where, ignore_errors=True))
        config.add_cleanup(self._queued.stop)

    def result(self, where: Path) -> T:
        queued, self._queued = self._queued, None
        if queued is None:
            return self.job(where)
        queued.work()
        return queued.done["job"].result()  # type: ignore[return-value]


#: the environment the run started with (read as the suite is collected, before any test could set a variable),
#: for processes started on the background thread while other tests run; bytecode caches written and read, as
#: conftest has it
START_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def pytest_run(
    where: Path, *args: str, plugins: Sequence[str] = (EDENFAKE_PLUGIN,), env: dict[str, str]
) -> pytest.RunResult:
    """``pytest -q args`` in a subprocess in ``where``, as ``run_pytest`` runs one there (pytest's own plugins and
    ``plugins`` only, no cache, hypothesis' directory shared) and as pytester sets it up (HOME in ``where``, no
    PYTEST_ADDOPTS, no colour, a base temporary directory of its own), without pytester: for a run made on the
    background thread. Its ``pytest.RunResult``."""
    env = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "HOME": str(where), "PY_COLORS": "0"}
    env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(HYPOTHESIS_HOME))
    env.pop("PYTEST_ADDOPTS", None)
    loaded = [arg for name in plugins for arg in ("-p", name)]
    command = [sys.executable, "-m", "pytest", f"--basetemp={where / 'basetemp'}", *loaded, "-p", "no:cacheprovider"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "-q", *args], cwd=where, env=env, capture_output=True, text=True, timeout=PYTEST_TIMEOUT, check=False
    )
    took = time.perf_counter() - started
    return pytest.RunResult(done.returncode, done.stdout.splitlines(), done.stderr.splitlines(), took)
