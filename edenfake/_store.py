"""One byte-bounded store with expiry: the rendered images, the answers, the hosted URLs and the uploads.

Values are bytes (with immutable extras beside them), so what a caller gets can never change what the next
caller gets. The bound counts the bytes held plus a fixed overhead per entry, so many small entries are
bounded too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ByteStore"]

K = TypeVar("K", bound=Hashable)
#: what an entry costs beyond its bytes: the dict slot, the key and the tuple around it
ENTRY_OVERHEAD = 256

_Entry = tuple[bytes, tuple[object, ...], float, int]  # data, extras, expires at (inf: never), cost


class ByteStore(Generic[K]):
    """A thread-safe LRU of ``bytes`` values, at most ``max_bytes`` in all (the least recently used go first),
    each kept until ``ttl`` seconds past its ``put`` on ``clock`` (None: until evicted).

    ``extras`` rides along with each value: immutable things only (strings, numbers, tuples, bytes).
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        ttl: float | None = None,
        clock: Callable[[], float] | None = None,
        max_items: int | None = None,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        if ttl is not None and clock is None:
            raise ValueError("a store with a ttl needs a clock")
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[K, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, key: K, data: bytes, extras: tuple[object, ...] = (), *, ttl: float | None = None) -> bool:
        """Store ``data`` under ``key`` (replacing what was there); False when it is larger than the whole store."""
        cost = len(data) + sum(len(x) for x in extras if isinstance(x, (bytes, str))) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return False
        lifetime = self.ttl if ttl is None else ttl
        expires = float("inf") if lifetime is None or self._clock is None else self._clock() + lifetime
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[3]
            self._items[key] = (data, extras, expires, cost)
            self._bytes += cost
            while self._bytes > self.max_bytes or (self.max_items is not None and len(self._items) > self.max_items):
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted[3]
        return True

    def get(self, key: K) -> tuple[bytes, tuple[object, ...]] | None:
        """The value and extras under ``key``, or None when unknown, evicted or expired."""
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            if entry[2] != float("inf") and self._clock is not None and self._clock() >= entry[2]:
                del self._items[key]
                self._bytes -= entry[3]
                return None
            self._items.move_to_end(key)
            return entry[0], entry[1]

    def expires_at(self, key: K) -> float | None:
        with self._lock:
            entry = self._items.get(key)
            return None if entry is None else entry[2]

    def pop(self, key: K) -> tuple[bytes, tuple[object, ...], float] | None:
        """Remove ``key``; its value, extras and expiry, or None when it was not there."""
        with self._lock:
            entry = self._items.pop(key, None)
            if entry is None:
                return None
            self._bytes -= entry[3]
            return entry[0], entry[1], entry[2]

    def live_entries(self) -> list[tuple[K, bytes, tuple[object, ...], float]]:
        """Every entry not yet expired, as (key, value, extras, expires at), least recently used first; the
        expired ones are dropped on the way. As many as the store holds (``max_items`` bounds it)."""
        with self._lock:
            now = self._clock() if self._clock is not None else None
            live = []
            for key, (data, extras, expires, cost) in list(self._items.items()):
                if now is not None and expires != float("inf") and now >= expires:
                    del self._items[key]
                    self._bytes -= cost
                else:
                    live.append((key, data, extras, expires))
            return live

    def drain(self) -> list[K]:
        """Empty the store; the keys of the entries that had not expired."""
        with self._lock:
            now = self._clock() if self._clock is not None else None
            live = [k for k, e in self._items.items() if now is None or e[2] == float("inf") or now < e[2]]
            self._items.clear()
            self._bytes = 0
            return live

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def keys_held(self) -> list[K]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._items)

    @property
    def size_bytes(self) -> int:
        """What the entries cost: their bytes and extras, and a fixed overhead each."""
        return self._bytes
