"""What a test holds while the fake runs, whichever door it came through: the journal, faults, credits, clock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, overload

from edenfake._core import Clock
from edenfake.errors import hide_setting_frames
from edenfake.fake import EdenFake
from edenfake.faults import CHAOS_STATUSES, Fault, FaultKind, unused_faults_message
from edenfake.journal import Journal

if TYPE_CHECKING:
    import httpx
    import httpx2
    import requests.adapters

__all__ = ["Handle"]
#: pytest hides these frames from a refused setting's traceback (the test's own line shows)
__tracebackhide__ = hide_setting_frames


class Handle:
    """The controls of one fake. ``edenfake.mock()`` and ``edenfake.serve()`` both give one."""

    def __init__(self, fake: EdenFake) -> None:
        self.fake = fake
        #: queue a fault: the fake's own ``fail()`` (a status, "timeout", "disconnect" or "content_policy")
        self.fail = fake.fail

    @property
    def calls(self) -> Journal:
        """Every API request answered, oldest first, credentials redacted."""
        return self.fake.calls

    @property
    def session_headers(self) -> dict[str, str]:
        """The headers that put a client in this handle's session: none, the default session (a worker's
        handle under ``--edenfake-shared-server`` gives ``{"X-Edenfake-Session": NAME}``). For the openai SDK:
        ``OpenAI(base_url=..., default_headers=handle.session_headers)``."""
        return {}

    @property
    def clock(self) -> Clock:
        return self.fake.clock

    @property
    def credits(self) -> float | None:
        """What is left of the account's balance (None: unlimited)."""
        return self.fake.credits

    @credits.setter
    def credits(self, value: float | None) -> None:
        self.fake.set_credits(value)

    def latency(self, seconds: float | tuple[float, float], *, seed: int | None = None) -> None:
        """Delay every API answer by ``seconds``, or by a seeded draw from a ``(low, high)`` range."""
        self.fake.set_latency(seconds, seed=seed)

    def chaos(
        self, rate: float, *, statuses: Iterable[int | FaultKind] = CHAOS_STATUSES, seed: int | None = None
    ) -> None:
        """Fail a seeded random ``rate`` of API requests with one of ``statuses``."""
        self.fake.set_chaos(rate, statuses=statuses, seed=seed)

    def rate_limit(self, per_second: int | None) -> None:
        """Refuse with 429 past ``per_second`` requests per token per second (None: off); while a limit is set,
        every /v3 answer carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset."""
        self.fake.set_rate_limit(per_second)

    def reset(self) -> None:
        """Journal, faults, latency, chaos, credits, rate limit and hosted images back to the start."""
        self.fake.reset()

    def unused_faults(self) -> list[Fault]:
        """Queued faults that never answered a request (one that answered at least once was used)."""
        return self.fake.faults.unused()

    def assert_all_faults_used(self, *, switch_off: str = "pass assert_all_faults_used=False") -> None:
        """AssertionError listing the queued faults that never answered a request; ``switch_off`` says how to
        turn the check off where it runs."""
        message = unused_faults_message([f.describe() for f in self.unused_faults()], switch_off)
        if message:
            raise AssertionError(message)

    # -- explicit doors: clients you build yourself, nothing patched (edenfake._transports) -----------------

    @overload
    def transport(self, *, library: Literal["httpx"] = "httpx") -> httpx.BaseTransport: ...
    @overload
    def transport(self, *, library: Literal["httpx2"]) -> httpx2.BaseTransport: ...
    def transport(self, *, library: str = "httpx") -> httpx.BaseTransport | httpx2.BaseTransport:
        """An httpx (or, with ``library="httpx2"``, httpx2) transport answered by this fake, active mock or
        not: ``httpx.Client(transport=eden.transport(), base_url="https://api.edenai.run/v3")``. It answers
        every request its client sends (a URL the mock routes loses its gateway prefix)."""
        from edenfake import _transports

        made: httpx.BaseTransport = _transports.transport(self, library)
        return made

    @overload
    def async_transport(self, *, library: Literal["httpx"] = "httpx") -> httpx.AsyncBaseTransport: ...
    @overload
    def async_transport(self, *, library: Literal["httpx2"]) -> httpx2.AsyncBaseTransport: ...
    def async_transport(self, *, library: str = "httpx") -> httpx.AsyncBaseTransport | httpx2.AsyncBaseTransport:
        """As :meth:`transport`, for ``httpx.AsyncClient`` (or httpx2's): heavy answers off the event loop."""
        from edenfake import _transports

        made: httpx.AsyncBaseTransport = _transports.async_transport(self, library)
        return made

    def requests_adapter(self) -> requests.adapters.HTTPAdapter:
        """A requests adapter answered by this fake, active mock or not:
        ``session.mount("https://api.edenai.run", eden.requests_adapter())``."""
        from edenfake import _mock_requests, _transports

        return _mock_requests.FakeAdapter(self, _transports.door_route(self))
