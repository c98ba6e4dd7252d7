"""The rate limit: at most so many requests per account (token) in any one second of the fake's clock, and the
window each request leaves behind, which the X-RateLimit headers report (``contracts/openapi.json``'s
``components/headers`` say what each means)."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from edenfake.errors import RateLimited

__all__ = ["MAX_TRACKED", "RateLimiter", "Window"]

#: the rate limiter tracks at most this many tokens at once: tokens whose last second holds no request are
#: forgotten first, then, past the bound, the token seen least recently (its next request starts afresh)
MAX_TRACKED = 1000


@dataclass(frozen=True)
class Window:
    """One account's rate-limit window as a request leaves it: what the X-RateLimit headers say."""

    limit: int
    #: requests the account may still make in the current second
    remaining: int
    #: the clock's time at which the window holds none of the account's requests
    reset: float

    def spent(self, now: float, wait: float) -> Window:
        """The window a 429 answers with: none remaining, and not reset before ``wait`` seconds from ``now``."""
        return Window(self.limit, 0, max(self.reset, now + wait))

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (Unix seconds, rounded up: never early)."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(math.ceil(self.reset)),
        }


class RateLimiter:
    """At most ``per_second`` requests per account (token) in any one second of the fake's clock, for at most
    MAX_TRACKED accounts at once."""

    def __init__(self, per_second: int, clock: Callable[[], float]) -> None:
        self.per_second = per_second
        self._clock = clock
        #: account -> times of its requests in the last second, the account seen least recently first
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def tracked(self) -> int:
        """How many accounts the limiter holds a window for (at most MAX_TRACKED)."""
        return len(self._seen)

    def check(self, account: str) -> Window:
        """Count a request for ``account``: its window after it; RateLimited (with the wait, and the window's
        X-RateLimit headers) when over the limit, which counts nothing."""
        now = self._clock()
        with self._lock:
            self._forget(now)
            seen = self._seen.pop(account, None) or deque()
            self._seen[account] = seen  # now the account seen most recently
            while seen and seen[0] <= now - 1.0:
                seen.popleft()
            if len(seen) >= self.per_second:
                wait = seen[0] + 1.0 - now
                refused = RateLimited(wait)
                refused.headers.update(Window(self.per_second, 0, seen[-1] + 1.0).spent(now, wait).headers())
                raise refused
            seen.append(now)
            if len(self._seen) > MAX_TRACKED:
                self._seen.popitem(last=False)
            return Window(self.per_second, self.per_second - len(seen), now + 1.0)

    def peek(self, account: str | None) -> Window:
        """``account``'s window as it stands, counting nothing (None: a request with no account, whose window
        is empty)."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(account) if account is not None else None
            live = [t for t in seen if t > now - 1.0] if seen else []
        return Window(self.per_second, max(0, self.per_second - len(live)), (live[-1] + 1.0) if live else now)

    def _forget(self, now: float) -> None:
        # The accounts seen least recently come first: drop them while their window is empty.
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest and oldest[-1] > now - 1.0:
                return
            self._seen.popitem(last=False)
