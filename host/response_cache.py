"""The shared cache of backend answers: HTTP caching rules and a bounded store, without I/O.

A service opts in through its catalogue entry (`cache`). What may be stored
follows RFC 9111 as it applies to a shared cache in front of many callers:

- Only `GET` and `HEAD` without a body, and never a request that carries
  credentials of the script's own (`authorization`, `cookie`): those answers
  belong to one caller. Headers the catalogue injects are the same for every
  caller, so they do not count.
- Never an answer the service marks `private`, `no-store` or `no-cache`, that
  sets a cookie, that varies on `*` or on a header the catalogue does not name
  in `vary`, or whose status is not cacheable by default.
- Fresh for the catalogue's `ttl_s`, or, without one, for the answer's own
  `s-maxage`/`max-age` less its `Age`; without either it is not stored.
- Past freshness an entry may still be served for `stale_while_revalidate_s`
  (while one call refreshes it) and `stale_if_error_s` (when the service fails),
  each from the catalogue or else the answer's own directive; `must-revalidate`
  turns both off.

The store is bounded twice: each service by its `max_bytes`, the host by its
total. Past the total, the service holding the most bytes gives up its least
recently used entries, so one busy service cannot empty everyone else's.
The clock is handed in, so every rule here is tested without waiting.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

Headers = list[tuple[str, str]]

MiB = 1 << 20
DEFAULT_SERVICE_BYTES = 8 * MiB
# Statuses a cache may store without explicit permission (RFC 9110 §15.1),
# less those no backend of ours means to be cached (206, 405, 414, 501).
CACHEABLE_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 410})
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_NEVER_STORE = frozenset({"private", "no-store", "no-cache"})
_NO_STALE = frozenset({"must-revalidate", "proxy-revalidate"})
# Bookkeeping per entry beyond its bytes: the key, the entry object, the dict slot.
_ENTRY_OVERHEAD = 256


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """A service's caching, as its catalogue entry declares it."""

    # None: honour the service's own Cache-Control.
    ttl_s: float | None = None
    max_bytes: int = DEFAULT_SERVICE_BYTES
    # Request headers (lower-case) whose values key separate entries.
    vary: tuple[str, ...] = ()
    # None: the answer's own directive, if any.
    stale_while_revalidate_s: float | None = None
    stale_if_error_s: float | None = None


@dataclass(frozen=True, slots=True)
class CacheKey:
    service: str
    method: str
    path: str
    varied: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Lifetimes:
    fresh_s: float
    stale_while_revalidate_s: float
    stale_if_error_s: float


class Freshness(StrEnum):
    FRESH = "fresh"
    # Servable now while one call refreshes it.
    STALE = "stale"
    # Servable only if the service fails.
    ON_ERROR = "on-error"


@dataclass(slots=True)
class Entry:
    status: int
    headers: Headers
    body: bytes
    stored_at: float
    fresh_until: float
    revalidate_until: float
    error_until: float
    size: int

    @property
    def expires_at(self) -> float:
        return max(self.fresh_until, self.revalidate_until, self.error_until)

    def freshness(self, now: float) -> Freshness | None:
        if now < self.fresh_until:
            return Freshness.FRESH
        if now < self.revalidate_until:
            return Freshness.STALE
        if now < self.error_until:
            return Freshness.ON_ERROR
        return None


@dataclass(frozen=True, slots=True)
class Found:
    entry: Entry
    freshness: Freshness


def cache_control(headers: Iterable[tuple[str, str]]) -> dict[str, str | None]:
    """Every Cache-Control directive of `headers`: lower-case name -> value (None if bare)."""
    found: dict[str, str | None] = {}
    for name, value in headers:
        if name.lower() != "cache-control":
            continue
        for part in value.split(","):
            directive, sep, argument = part.strip().partition("=")
            if directive:
                found.setdefault(directive.lower(), argument.strip().strip('"') if sep else None)
    return found


def request_is_cacheable(method: str, headers: Headers, body: bytes) -> bool:
    """Whether a script's request may be answered from, or stored in, the shared cache."""
    if method.upper() not in {"GET", "HEAD"} or body:
        return False
    if any(name.lower() in CREDENTIAL_HEADERS for name, _ in headers):
        return False
    return "no-store" not in cache_control(headers)


def request_wants_fresh(headers: Headers) -> bool:
    """`cache-control: no-cache` from the script: go to the service, then store its answer."""
    return "no-cache" in cache_control(headers)


def cache_key(
    service: str, method: str, path: str, headers: Headers, vary: Iterable[str]
) -> CacheKey:
    sent = {name.lower(): value for name, value in headers}
    varied = tuple((name, sent.get(name, "")) for name in sorted(vary))
    return CacheKey(service, method.upper(), path, varied)


def lifetimes(policy: CachePolicy, status: int, headers: Headers) -> Lifetimes | None:
    """How long an answer may be used, or None when it must not be stored at all."""
    if status not in CACHEABLE_STATUSES:
        return None
    directives = cache_control(headers)
    if _NEVER_STORE & directives.keys():
        return None
    if any(name.lower() == "set-cookie" for name, _ in headers):
        return None
    if not _varies_within(policy, headers):
        return None
    fresh = policy.ttl_s if policy.ttl_s is not None else _max_age(directives, headers)
    if fresh is None:
        return None
    no_stale = bool(_NO_STALE & directives.keys())
    found = Lifetimes(
        fresh_s=max(0.0, fresh),
        stale_while_revalidate_s=0.0
        if no_stale
        else _window(policy.stale_while_revalidate_s, directives, "stale-while-revalidate"),
        stale_if_error_s=0.0
        if no_stale
        else _window(policy.stale_if_error_s, directives, "stale-if-error"),
    )
    if found.fresh_s == 0 and found.stale_while_revalidate_s == 0 and found.stale_if_error_s == 0:
        return None
    return found


def _varies_within(policy: CachePolicy, headers: Headers) -> bool:
    """Whether the key holds every header the answer varies on (else it could reach the
    wrong caller)."""
    varied = {
        name.strip().lower()
        for key, value in headers
        if key.lower() == "vary"
        for name in value.split(",")
        if name.strip()
    }
    return "*" not in varied and varied <= set(policy.vary)


def _max_age(directives: dict[str, str | None], headers: Headers) -> float | None:
    seconds = _seconds(directives.get("s-maxage"))
    if seconds is None:
        seconds = _seconds(directives.get("max-age"))
    if seconds is None:
        return None
    age = next((_seconds(value) for name, value in headers if name.lower() == "age"), None)
    return seconds - (age or 0.0)


def _window(declared: float | None, directives: dict[str, str | None], name: str) -> float:
    if declared is not None:
        return declared
    return _seconds(directives.get(name)) or 0.0


def _seconds(value: str | None) -> float | None:
    if value is None or not value.isdigit():
        return None
    return float(value)


def entry_size(key: CacheKey, headers: Headers, body: bytes) -> int:
    header_bytes = sum(len(name) + len(value) for name, value in headers)
    return len(body) + header_bytes + len(key.path) + _ENTRY_OVERHEAD


@dataclass
class ResponseCache:
    """Entries by service, each service in least-recently-used order, within byte bounds."""

    max_bytes: int
    _entries: dict[str, OrderedDict[CacheKey, Entry]] = field(default_factory=dict)
    _bytes: Counter[str] = field(default_factory=Counter)
    # service -> event -> count: hit, miss, stale, store, evict, ... (read by /metrics)
    events: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def count(self, service: str, event: str) -> None:
        self.events[service][event] += 1

    def lookup(self, key: CacheKey, now: float) -> Found | None:
        entries = self._entries.get(key.service)
        entry = entries.get(key) if entries else None
        if entry is None:
            return None
        freshness = entry.freshness(now)
        if freshness is None:
            self._remove(key)
            return None
        assert entries is not None
        entries.move_to_end(key)
        return Found(entry, freshness)

    def store(
        self,
        key: CacheKey,
        policy: CachePolicy,
        found: Lifetimes,
        response: tuple[int, Headers, bytes],
        now: float,
    ) -> bool:
        status, headers, body = response
        size = entry_size(key, headers, body)
        if size > min(policy.max_bytes, self.max_bytes):
            self.count(key.service, "too_large")
            return False
        self._remove(key)
        fresh_until = now + found.fresh_s
        self._entries.setdefault(key.service, OrderedDict())[key] = Entry(
            status=status,
            headers=list(headers),
            body=body,
            stored_at=now,
            fresh_until=fresh_until,
            revalidate_until=fresh_until + found.stale_while_revalidate_s,
            error_until=fresh_until + found.stale_if_error_s,
            size=size,
        )
        self._bytes[key.service] += size
        self.count(key.service, "store")
        self._evict(key.service, policy.max_bytes, now)
        return True

    def invalidate(self, service: str, path: str) -> None:
        """Forget every entry of `path` (any method, any varied header): it was just changed."""
        for key in [k for k in self._entries.get(service, {}) if k.path == path]:
            self._remove(key)

    def drop(self, service: str) -> None:
        """Forget a service's entries: its catalogue entry changed or went away."""
        self._entries.pop(service, None)
        self._bytes.pop(service, None)

    def bytes_by_service(self) -> dict[str, int]:
        return {service: size for service, size in self._bytes.items() if size}

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    @property
    def total_bytes(self) -> int:
        return sum(self._bytes.values())

    def _remove(self, key: CacheKey) -> None:
        entries = self._entries.get(key.service)
        entry = entries.pop(key, None) if entries else None
        if entry is not None:
            self._bytes[key.service] -= entry.size

    def _evict(self, service: str, service_limit: int, now: float) -> None:
        self._drop_expired(service, now)
        while self._bytes[service] > service_limit:
            self._evict_oldest(service)
        while self.total_bytes > self.max_bytes:
            self._evict_oldest(max(self._bytes, key=self._bytes.__getitem__))

    def _drop_expired(self, service: str, now: float) -> None:
        for key in [k for k, e in self._entries.get(service, {}).items() if e.expires_at <= now]:
            self._remove(key)

    def _evict_oldest(self, service: str) -> None:
        oldest = next(iter(self._entries[service]))
        self._remove(oldest)
        self.count(service, "evict")
