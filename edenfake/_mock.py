"""Door 2: in-process interception. Requests from httpx and httpx2 clients (the openai SDK's among them),
requests sessions and aiohttp sessions to the Eden hosts reach the core with no socket; requests to other
hosts are left alone (or refused, if you ask). However many mocks are active (nested ``with`` blocks, a fixture
and a block inside it), each client library is patched once, and a request goes to the newest mock that takes
its host.

Where each library is hooked (the step at which it picks how to send a request, so that what it does around
that step stays its own): httpx and httpx2 ``Client._transport_for_url``; requests ``Session.get_adapter``
(:mod:`edenfake._mock_requests` says why not ``responses``); aiohttp ``TCPConnector._create_connection``
(:mod:`edenfake._mock_aiohttp` says why not ``aioresponses``). No library is imported for this: each is
patched when a mock starts if it is already imported, or when it is first imported while a mock is active.
:mod:`edenfake._transports` has the same doors without patching."""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from edenfake import _options, _transports
from edenfake._handle import Handle
from edenfake._wire import FakeRequest, FakeResponse
from edenfake.fake import EdenFake
from edenfake.images import ImageCache

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    from typing_extensions import Unpack

__all__ = ["DEFAULT_BASE_URLS", "MockHandle", "mock"]

#: the real service's hosts, routed to the fake by default
DEFAULT_BASE_URLS = _options.EDEN_BASE_URLS

F = TypeVar("F", bound=Callable[..., Any])


class _Target:
    """A base URL the mock routes: its host, its port (None: any) and its gateway prefix. (A plain class: a
    dataclass's generated methods took the import of this module about a millisecond.)"""

    __slots__ = ("host", "port", "prefix")

    def __init__(self, host: str, port: int | None, prefix: str) -> None:
        self.host = host
        self.port = port
        #: a path the user's base URL puts before /v3 (a gateway); stripped before the core sees the path
        self.prefix = prefix

    @classmethod
    @functools.lru_cache(maxsize=256)
    def parse(cls, base_url: str) -> _Target:
        parts = urllib.parse.urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        host = parts.hostname or ""
        if (
            parts.scheme not in ("http", "https")
            or not host.strip(".")
            or not all(c.isprintable() and not c.isspace() for c in host)
        ):
            raise ValueError(f"not a base URL (http:// or https:// and a host name): {base_url!r}")
        prefix = parts.path.rstrip("/")
        if prefix.endswith("/v3"):
            prefix = prefix[: -len("/v3")]
        return cls(host.lower().rstrip("."), parts.port, prefix)

    def path_for(self, host: str, port: int | None, path: str) -> str | None:
        """The path the core should see, or None when the URL is not this target's."""
        if host != self.host or (self.port is not None and port != self.port):
            return None
        if not self.prefix:
            return path
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return path[len(self.prefix) :] or "/"
        return None


class MockHandle(Handle):
    """An active (or ready) in-process mock: the fake's controls plus the interception.

    Use it as a context manager (``with`` / ``async with``) or a decorator (sync or async functions). Mocks
    nest: while several are active, the newest one whose hosts a request names answers it, for every client.
    """

    def __init__(self, fake: EdenFake | None = None, /, **kwargs: Unpack[_options.MockKwargs]) -> None:
        options = _options.build(_options.MockOptions, kwargs, "edenfake.mock()")
        given_fake_options = set(kwargs) & _options.names(_options.FakeOptions)
        if fake is not None and given_fake_options:
            raise TypeError(f"pass options to EdenFake() or to mock(), not both: {sorted(given_fake_options)}")
        super().__init__(fake if fake is not None else _fake_for(options))
        self.options = options
        self.targets = tuple(_Target.parse(u) for u in (*DEFAULT_BASE_URLS, *options.base_urls))
        self.assert_all_mocked = options.assert_all_mocked
        self.check_faults = options.assert_all_faults_used
        self._active = False

    # -- routing -------------------------------------------------------------------------------------

    def route(self, scheme: str, host: str, port: int | None, path: str) -> str | None:
        """The core's path for this URL, or None when the URL is not for the fake."""
        del scheme
        host = host.lower().rstrip(".")  # "api.edenai.run." is the same host, fully qualified
        for target in self.targets:
            found = target.path_for(host, port, path)
            if found is not None:
                return found
        return None

    def dispatch(self, method: str, url: Any, headers: Iterable[tuple[str, str]], body: bytes) -> FakeResponse | None:
        """Hand a request to the core; None when its URL is not for the fake. ``url`` is an httpx(2).URL."""
        request = self.request_for(method, url, headers, body)
        return None if request is None else self.fake.answer(request)

    def request_for(self, method: str, url: Any, headers: Iterable[tuple[str, str]], body: bytes) -> FakeRequest | None:
        """The request as the core sees it; None when its URL is not for the fake. ``url`` has httpx's URL
        attributes (``scheme``, ``host``, ``port``, ``path``, ``query``)."""
        path = self.route(url.scheme, url.host, url.port, url.path)
        if path is None:
            return None
        return _transports.fake_request(method, url, headers, body, path)

    # -- starting and stopping -----------------------------------------------------------------------

    def start(self) -> MockHandle:
        if self._active:
            raise RuntimeError("this mock is already active")
        _Active.add(self)
        self._active = True
        return self

    def stop(self, *, check: bool = True) -> None:
        if not self._active:
            return
        self._active = False
        _Active.remove(self)
        if check and self.check_faults:
            self.assert_all_faults_used()

    def __enter__(self) -> MockHandle:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop(check=kind is None)  # the block's own failure says more than a teardown check

    async def __aenter__(self) -> MockHandle:
        return self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(check=kind is None)

    def __call__(self, func: F) -> F:
        """Decorate a test (sync or async): the mock is active while it runs, fresh for each call."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _fresh(self) -> MockHandle:
        self.fake.reset()
        return self


#: the image cache the mocks' own fakes share while their bound is the default (an image's bytes depend on its
#: spec alone, the seed in it): a fake built per test, as the fixture builds one, answers a request an earlier
#: test sent from what that test rendered; at most the default bound in all, whatever the number of fakes
_SHARED_IMAGES: list[ImageCache] = []
_SHARED_IMAGES_LOCK = threading.Lock()


def _fake_for(options: _options.MockOptions) -> EdenFake:
    fake = EdenFake(options)
    if options.image_cache_bytes == _options.FakeOptions.image_cache_bytes:
        with _SHARED_IMAGES_LOCK:
            if not _SHARED_IMAGES:
                _SHARED_IMAGES.append(fake.images)
            fake.images = _SHARED_IMAGES[0]
    return fake


@overload
def mock(fake: F, /) -> F: ...
@overload
def mock(fake: EdenFake | None = None, /, **kwargs: Unpack[_options.MockKwargs]) -> MockHandle: ...
def mock(fake: Any = None, /, **kwargs: Any) -> Any:
    """Route httpx, httpx2 (the openai SDK's), requests and aiohttp requests for the Eden hosts to a fake,
    in-process.

    ``with edenfake.mock() as eden:`` / ``async with`` / ``@edenfake.mock`` / ``@edenfake.mock(credits=1)``.

    Keyword options (:class:`edenfake.MockOptions`): ``base_urls`` (more hosts or gateway URLs to route, e.g.
    ``"http://gateway:8080/eden"``), ``assert_all_mocked`` (True: a request to any other host fails loudly
    instead of going out), ``assert_all_faults_used`` (True: leaving with a queued fault unanswered is an
    AssertionError), and any :class:`EdenFake` option (``credits=``, ``rate_limit=``, ``clock=``, ``seed=``...).
    """
    if callable(fake) and not isinstance(fake, EdenFake):
        return MockHandle(**kwargs)(fake)
    return MockHandle(fake, **kwargs)


# -- the active mocks: one interception per client library, whatever the number of mocks -----------------


class _Active:
    """The active mocks, newest last. The first to start patches the client libraries; the last to stop removes
    the patches. A request goes to the newest mock whose hosts it names."""

    _lock = threading.RLock()
    _handles: ClassVar[list[MockHandle]] = []
    #: what puts each library's hooks back, by library, while patched
    _restores: ClassVar[dict[str, Callable[[], None]]] = {}

    @classmethod
    def add(cls, handle: MockHandle) -> None:
        with cls._lock:
            cls._handles.append(handle)
            if len(cls._handles) == 1:
                for name in _LATER:
                    if _loaded(name):
                        cls.patch_later(name)
                _ImportWatch.install()

    @classmethod
    def remove(cls, handle: MockHandle) -> None:
        with cls._lock:
            if handle in cls._handles:
                cls._handles.remove(handle)
            if not cls._handles:
                for restore in cls._restores.values():
                    restore()
                cls._restores = {}
                _ImportWatch.uninstall()

    @classmethod
    def patch_later(cls, name: str) -> None:
        """Patch library ``name`` (imported by now) if mocks are active and it is not patched yet."""
        with cls._lock:
            if cls._handles and name not in cls._restores:
                patcher = _LATER[name]
                if patcher is None:
                    cls._restores[name] = _patch_clients(sys.modules[name])
                else:
                    cls._restores[name] = importlib.import_module(patcher).patch(cls.handle_for, cls.refuse)

    @classmethod
    def handle_for(cls, url: Any) -> MockHandle | None:
        for handle in reversed(cls._handles):  # the newest mock wins
            if handle.route(url.scheme, url.host, url.port, url.path) is not None:
                return handle
        return None

    @classmethod
    def refuse(cls, url: Any) -> None:
        """AssertionError when an active mock asked for every request to be the fake's."""
        if any(h.assert_all_mocked for h in cls._handles):
            raise AssertionError(
                f"edenfake.mock(assert_all_mocked=True): a request to {url} is not for the fake; "
                "add its base URL with base_urls=[...] or pass assert_all_mocked=False to let it through"
            )


#: the client libraries, each patched only once something imports it (a test that uses only one pays for that
#: one), and the module of edenfake that patches it (None: httpx and httpx2, by _patch_clients)
_LATER: dict[str, str | None] = {
    "httpx": None,
    "httpx2": None,
    "requests": "edenfake._mock_requests",
    "aiohttp": "edenfake._mock_aiohttp",
}


def _loaded(name: str) -> bool:
    """Whether module ``name`` is imported and done loading. One that another thread is loading at the moment
    the first mock starts is left alone (waiting for it under the lock could deadlock with that thread): a mock
    started once it is loaded patches it."""
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


class _ImportWatch:
    """While mocks are active: when a client library (httpx, httpx2, requests, aiohttp) is first imported, patch
    it once it has loaded. Never imports one itself, so that a mock costs nothing for a library the test does
    not use (httpx2 alone takes about as long to import as the rest of edenfake). (A finder and a
    loader by their methods alone: importlib.abc would import importlib.resources, tempfile and more.)"""

    _installed: ClassVar[_ImportWatch | None] = None

    @classmethod
    def install(cls) -> None:
        if cls._installed is None and not all(_loaded(name) for name in _LATER):
            cls._installed = cls()
            sys.meta_path.insert(0, cls._installed)

    @classmethod
    def uninstall(cls) -> None:
        if cls._installed is not None:
            if cls._installed in sys.meta_path:
                sys.meta_path.remove(cls._installed)
            cls._installed = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _LATER:
            return None
        for finder in sys.meta_path:  # the spec the import system would find without this finder
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        spec.loader = _PatchAfter(loader, fullname)  # type: ignore[assignment]  # a Loader by its methods
        return spec


class _PatchAfter:
    """A loader that loads as ``loader`` does, then patches the library for the active mocks."""

    def __init__(self, loader: Any, name: str) -> None:
        self.loader = loader
        self.name = name

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self.loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__.loader = self.loader  # type: ignore[union-attr]  # the module's own loader from now on
        self.loader.exec_module(module)
        _Active.patch_later(self.name)


# -- httpx and httpx2: clients ask _transport_for_url which transport to use; the fake's URLs get the fake's ----


def _patch_clients(module: ModuleType) -> Callable[[], None]:
    """Patch the clients of ``module`` (httpx or httpx2) to ask the active mocks for a transport first, so that
    clients with a transport of their own (MockTransport, retries, proxies) are routed too; what puts the
    originals back. Two attribute writes: a fixture starts one mock per test."""
    originals: dict[Any, Any] = {}
    for client_class, transport in (
        (module.Client, _transports.sync_class(module)),
        (module.AsyncClient, _transports.async_class(module)),
    ):
        originals[client_class] = client_class._transport_for_url
        client_class._transport_for_url = _patched(originals[client_class], transport)

    def restore() -> None:
        for client_class, original in originals.items():
            client_class._transport_for_url = original

    return restore


def _patched(original: Callable[..., Any], transport: type) -> Callable[..., Any]:
    def _transport_for_url(self: Any, url: Any) -> Any:
        handle = _Active.handle_for(url)
        if handle is not None:
            own = original(self, url)
            if getattr(own, "explicit", False):  # a fake's transport the user gave this client: it answers
                return own
            return transport(handle, handle.request_for, explicit=False)
        _Active.refuse(url)
        return original(self, url)

    return _transport_for_url
