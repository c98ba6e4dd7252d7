"""A real HTTP server for the fake: uvicorn on a loopback socket, in the foreground or a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.types import ASGIApp

from edenfake import _options
from edenfake._bounds import MAX_HEAD_BYTES, bounded, protocol_class
from edenfake._handle import Handle
from edenfake.app import asgi_door, cut_holds
from edenfake.fake import EdenFake

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["LiveServer", "bind", "make_server", "serve"]

log = logging.getLogger("edenfake")


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), ready to hand to uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when their protocol says TCP.
    # Without it every answer on a kept-alive connection waits for the client's delayed ACK (~40 ms) unless
    # uvloop is installed.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except BaseException:  # OSError, and a host or port bind() cannot take at all (ValueError, OverflowError)
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


#: seconds a stopping server waits for the requests in flight (hanging faults are cut at once) before it
#: cancels them
GRACEFUL_SHUTDOWN = 5.0
#: uvicorn's tick (it updates the date header every tenth), and how often a stopping server looks whether its
#: connections have closed
_TICK = 0.1
_LOOK = 0.002


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        on_started: Callable[[], None] | None,
        on_stopped: Callable[[], None] | None = None,
        on_cut: Callable[[int], None] | None = None,
    ) -> None:
        self._exit = False
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        super().__init__(config)
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._on_cut = on_cut

    # uvicorn looks whether it should stop every 0.1 s, then gives its connections a fixed 0.1 s to close and
    # looks again every 0.1 s while any is open: a test's server took 0.15 s to stop, most of it asleep. This
    # server wakes as soon as it is told to stop, and looks every few milliseconds while connections close.

    @property
    def should_exit(self) -> bool:
        return self._exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit = value
        wake = self._wake
        if value and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: it has stopped already
                wake[0].call_soon_threadsafe(wake[1].set)

    async def main_loop(self) -> None:
        self._wake = (asyncio.get_running_loop(), asyncio.Event())
        try:
            counter = 0
            while not await self.on_tick(counter):  # uvicorn's tick: the date header, once a second
                counter = (counter + 1) % 864000
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake[1].wait(), _TICK)
        finally:
            self._wake = None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn waits for the requests in flight: a hanging fault (or a long latency) would hold it for as long
        # as it hangs. Cut them first; their connections are dropped as a hang's end drops them.
        cut = cut_holds()
        if cut:
            (self._on_cut or _log_cut)(cut)
        # uvicorn's shutdown, with its waits cut to what the connections take
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # an idle one closes at once; one answering closes once its answer is out
        try:
            await asyncio.wait_for(self._until_settled(), timeout=self.config.timeout_graceful_shutdown)
        except asyncio.TimeoutError:
            log.error("edenfake: cancelling %d request(s) still running at shutdown", len(self.server_state.tasks))
            for task in self.server_state.tasks:
                task.cancel()
        if not self.force_exit:
            await self.lifespan.shutdown()
        # Before uvicorn re-raises the signal that stopped it: SIGTERM's default action ends the process at once.
        if self._on_stopped is not None:
            self._on_stopped()

    async def _until_settled(self) -> None:
        """Until no connection and no request task is left (or a second Ctrl-C), and the listeners are closed."""
        state = self.server_state
        while (state.connections or state.tasks) and not self.force_exit:
            await asyncio.sleep(_LOOK)
        for server in self.servers:
            await server.wait_closed()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # Announce only once listening, with uvicorn's signal handlers in place: a Ctrl-C from then on
        # always stops the server cleanly.
        if self._on_started is not None and not self.should_exit:
            self._on_started()


def make_server(
    fake: EdenFake,
    *,
    app: ASGIApp | None = None,
    log_level: str = "warning",
    on_started: Callable[[], None] | None = None,
    on_stopped: Callable[[], None] | None = None,
    on_cut: Callable[[int], None] | None = None,
    request_timeout: float = _options.REQUEST_TIMEOUT,
    max_connections: int = _options.MAX_CONNECTIONS,
    http: Any = "auto",
    **config: Any,
) -> uvicorn.Server:
    """A uvicorn server for ``fake`` (or for ``app``, an app built on it), without access logs (the fake logs its
    own one line per request). As it stops it cuts the holds in flight (hanging faults, latency) short and tells
    ``on_cut`` how many (by default an INFO line of the ``edenfake`` logger).

    Each connection has ``request_timeout`` seconds, from opening or from the end of its previous answer, to
    send a whole request, and as long to read its answer (see :class:`edenfake._bounds.Bounds`); at most
    ``max_connections`` are served at once (a request past them is answered 503 SERVICE_UNAVAILABLE). ``http``:
    uvicorn's HTTP protocol ("auto", "h11", "httptools")."""
    cfg = uvicorn.Config(
        app if app is not None else asgi_door(fake),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        server_header=False,
        http=bounded(protocol_class(http), request_timeout, max_connections),
        **{
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN,
            "h11_max_incomplete_event_size": 2 * MAX_HEAD_BYTES,  # h11's own bound (16 KiB) behind this one
            "ws": "none",  # no WebSocket routes: an upgrade request is answered as the HTTP request it also is
            **config,
        },
    )
    return _Server(cfg, on_started, on_stopped, on_cut)


def cut_line(count: int) -> str:
    """What a stopping server says of the held requests it cut short."""
    return (
        f"edenfake: stopping: cut short {count} held request(s): a timeout fault's connection dropped, a "
        "latency's answer sent at once"
    )


def _log_cut(count: int) -> None:
    log.info("%s", cut_line(count))


def warn_beyond_loopback(fake: EdenFake, host: str, port: int) -> None:
    """A UserWarning when a fake without an admin token listens beyond loopback (the CLI prints its own)."""
    if fake.admin_token is None and not ipaddress.ip_address(host).is_loopback:
        warnings.warn(
            f"edenfake: listening on {host}, beyond this machine: anyone who reaches port {port} can drive the "
            "admin API (/_edenfake/: faults, credits, clock, the journal); admin_token= requires a token for it",
            stacklevel=4,
        )


class LiveServer(Handle):
    """A fake served by uvicorn in a background thread on 127.0.0.1: ``url``, ``base_url``, and the same
    controls as the in-process mock (``calls``, ``fail()``, ``credits``, ``clock``, ``reset()``)."""

    def __init__(self, fake: EdenFake, *, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        """``config``: :func:`make_server`'s (``request_timeout``, ``max_connections``) and uvicorn settings,
        e.g. ``loop="asyncio", http="h11"`` (the default picks uvloop and httptools when they are installed)."""
        super().__init__(fake)
        self._sock = bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        try:
            warn_beyond_loopback(fake, self.host, self.port)
        except BaseException:  # warnings turned into errors: the socket goes with the refusal
            self._sock.close()
            raise
        self._server = make_server(fake, **config)
        self._thread = threading.Thread(target=self._run, name="edenfake-server", daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI-compatible client: ``url + "/v3"``."""
        return self.url + "/v3"

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> LiveServer:
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("edenfake server thread stopped before it started; see the log")
            deadline.wait(0.005)
            waited += 0.005
            if waited > timeout:
                raise TimeoutError(f"edenfake server did not start within {timeout} s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()


@contextmanager
def serve(fake: EdenFake | None = None, /, **kwargs: Unpack[_options.ServeKwargs]) -> Iterator[LiveServer]:
    """Run a fake on ``host:port`` (loopback and a free port by default) for the duration of a ``with`` block.

    For clients that are not httpx: requests, aiohttp, subprocesses, other languages. The keywords are
    :class:`edenfake.ServeOptions`: ``host``, ``port``, ``request_timeout``, ``max_connections``,
    ``assert_all_faults_used`` (leaving the block with a
    queued fault unanswered is an AssertionError unless False) and any :class:`EdenFake` option.
    """
    options = _options.build(_options.ServeOptions, kwargs, "edenfake.serve()")
    given_fake_options = set(kwargs) & _options.names(_options.FakeOptions)
    if fake is not None and given_fake_options:
        raise TypeError(f"pass options to EdenFake() or to serve(), not both: {sorted(given_fake_options)}")
    chosen = fake if fake is not None else EdenFake(options)
    server = LiveServer(
        chosen,
        host=options.host,
        port=options.port,
        request_timeout=options.request_timeout,
        max_connections=options.max_connections,
    ).start()
    failed = False
    try:
        yield server
    except BaseException:
        failed = True
        raise
    finally:
        server.stop()
        if options.assert_all_faults_used and not failed:
            server.assert_all_faults_used()
