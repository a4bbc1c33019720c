"""Live experiments for landing pages: the variant of a visitor, exposure and conversion events.

:class:`LiveExperiments` serves the public web endpoints (``GET /api/v1/experiments/{key}/variant``
and ``POST /api/v1/events``, :mod:`levier.web.routes.api.experiments_public`) for *published*
experiments (``web.enabled: true`` in the protocol), with the same hashing as
:func:`~levier.analysis.experiments.assignment.assign_variant`:

- a unit already in ``assignments`` keeps its stored variant (whatever the weights now);
- excluded units (the protocol's exclusion rules, for lead units) get no variant and no row;
- a unit's first call appends its assignment to ``assignments``; events are appended to
  ``web_events`` with the variant qualified by the experiment key (``"<key>/<arm>"``).

Writes are *group commits*: a request queues its row, then takes the write lock; the thread
that holds it writes every queued row in one import batch, so concurrent requests share one
insert, and a request answers only once its row is stored. One lock serialises every facts
access of this object (a DuckDB connection must not be used by two threads at once). Known
assignments of a published experiment are loaded once into memory, so a returning visitor costs
no query (decision 0073). Exclusions are looked up per unit — a query filtered on that lead or
account, only for a unit without a variant yet — and kept in a bounded LRU cache
(``max_exclusions`` entries, each re-read after ``ttl`` seconds; a protocol change drops its
entries), so memory does not grow with the leads table (decision 0201).

Several worker processes (``levier serve --workers N``, decision 0130): the rate limit of each
process is the protocol's divided by N (``LEVIER_WEB_WORKERS``); a unit missing from this
process's cache is looked up where the other workers write before it is assigned — the facts
inbox (rows queued since the last look) when the facts are read-only, else the facts — so a
returning visitor keeps its variant whichever worker answers. Two workers answering the same
new unit at the same instant may both store it (the same variant, by hashing): analyses read
the first assignment of each unit, so it never counts twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from levier.analysis.experiments.assignment import assign_variant
from levier.analysis.experiments.protocol import Protocol, ProtocolStore
from levier.analysis.experiments.storage import (
    EXCLUSION_RULES,
    append_rows,
    existing_assignments,
    queued_assignments,
    stored_variant,
    unit_exclusion,
)
from levier.data.inbox import (  # one reading of LEVIER_WEB_WORKERS (re-exported)
    WORKERS_ENV,
    web_workers,
)
from levier.errors import NotFoundError, RuleError
from levier.i18n import gettext as _

__all__ = ["LiveExperiments", "VariantAnswer", "RateLimiter", "EVENT_TYPES", "qualified_variant", "web_workers",
           "WORKERS_ENV"]

#: web event types the public endpoint accepts (a subset of the canonical ``web_events.type``)
EVENT_TYPES = ("exposure", "conversion", "form_start", "form_submit", "click")
_TEXT_LIMIT = 500


def qualified_variant(key: str, variant: str) -> str:
    """How an experiment's variant is stored in ``web_events.variant``: ``"<key>/<arm>"``."""
    return f"{key}/{variant}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _clip(value: str | None, limit: int = _TEXT_LIMIT) -> str | None:
    if value is None:
        return None
    value = "".join(ch for ch in str(value) if ch.isprintable())[:limit]
    return value or None


@dataclass(frozen=True)
class VariantAnswer:
    """What a landing page needs: the variant and the changes to apply (none when excluded)."""

    experiment: str
    unit_id: str
    variant: str | None
    changes: tuple[dict[str, Any], ...] = ()
    excluded: bool = False
    reason: str | None = None
    new: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "unit_id": self.unit_id, "variant": self.variant,
                "changes": [dict(c) for c in self.changes], "excluded": self.excluded, "reason": self.reason,
                "new": self.new}


@dataclass
class RateLimiter:
    """Token buckets: ``per_minute`` requests per key, refilled continuously (bursts up to it)."""

    clock: Callable[[], float] = time.monotonic
    max_keys: int = 100_000
    _buckets: dict[Any, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: Any, per_minute: int) -> tuple[bool, float]:
        """(allowed, seconds until the next token) for one request of ``key``."""
        now, cap, rate = self.clock(), float(per_minute), per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key, (cap, now))
            tokens = min(cap, tokens + (now - last) * rate)
            if len(self._buckets) >= self.max_keys:
                self._prune(now, rate, cap)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return True, 0.0
            self._buckets[key] = (tokens, now)
            return False, (1.0 - tokens) / rate

    def _prune(self, now: float, rate: float, cap: float) -> None:
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * rate >= cap]
        for k in full or list(self._buckets)[: self.max_keys // 2]:
            del self._buckets[k]


class LiveExperiments:
    """Published experiments of one workspace, their assignments and events (thread-safe)."""

    def __init__(self, ws: Any, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic,
                 workers: int | None = None, max_exclusions: int = 100_000) -> None:
        self.ws = ws
        self.store = ProtocolStore(ws.path)
        self.ttl = ttl
        self.clock = clock
        self.workers = max(1, workers) if workers is not None else web_workers()
        self.limiter = RateLimiter(clock=clock)
        self._inbox_seen: dict[str, int] = {}   # experiment → last facts-inbox id read
        self._state = threading.Lock()       # in-memory caches and queues
        self._facts = threading.RLock()      # every facts access (reads and writes)
        self._protocols: dict[str, tuple[int, Protocol]] = {}
        self._assigned: dict[str, dict[str, str]] = {}
        self.max_exclusions = max(1, max_exclusions)
        # (experiment, unit) → (time looked up, reason or None), least recently used first
        self._excluded: OrderedDict[tuple[str, str], tuple[float, str | None]] = OrderedDict()
        self._queue: dict[str, list[dict[str, Any]]] = {"assignments": [], "web_events": []}

    # -- protocols --------------------------------------------------------------------------
    def published(self, key: str) -> Protocol:
        """The protocol of ``key`` if it is published to landing pages, else NotFoundError."""
        path = self.store.path(key) if key and "/" not in key and not key.startswith(".") else None
        try:
            mtime = path.stat().st_mtime_ns if path is not None else -1
        except OSError:
            mtime = -1
        cached = self._protocols.get(key)
        if cached and cached[0] == mtime:
            proto = cached[1]
        elif mtime < 0:
            proto = None
        else:
            proto = self.store.load(key)
            with self._state:
                self._protocols[key] = (mtime, proto)
                for cached_key in [k for k in self._excluded if k[0] == key]:
                    del self._excluded[cached_key]
        if proto is None or not proto.web.enabled:
            raise NotFoundError(_("No published experiment '{key}'.", key=key),
                                hint=_("Set web.enabled: true in its protocol (levier experiment protocol {key} --from FILE).", key=key))
        return proto

    def origins(self) -> set[str]:
        """Every origin allowed by a published experiment (for CORS preflight requests)."""
        out: set[str] = set()
        for key in self.store.keys():
            try:
                out.update(self.published(key).web.origins)
            except Exception:  # noqa: BLE001 - unpublished or invalid protocols allow nothing
                continue
        return out

    # -- rate limit ---------------------------------------------------------------------------
    def rate_limit(self, proto: Protocol) -> int:
        """Requests per minute this process grants a client: the protocol's rate ÷ the workers (≥ 1)."""
        return max(1, proto.web.rate_per_minute // self.workers)

    def allow(self, client: str, proto: Protocol) -> tuple[bool, float]:
        """(allowed, seconds to wait) for one request of ``client`` to experiment ``proto``."""
        return self.limiter.allow((client, proto.key), self.rate_limit(proto))

    # -- state loaded from the facts ---------------------------------------------------------
    @property
    def _queues(self) -> bool:
        """Whether this process's facts writes are queued in the inbox (read-only facts, or several workers on a server engine)."""
        from levier.data.inbox import queues_writes

        return queues_writes(self.ws)

    def _known(self, key: str) -> dict[str, str]:
        known = self._assigned.get(key)
        if known is None:
            with self._facts:
                loaded = existing_assignments(self.ws, key)
            with self._state:
                known = self._assigned.setdefault(key, loaded)
            if self._queues:
                self._read_queued(key)
        return known

    def _read_queued(self, key: str) -> None:
        """Add the assignments queued by any worker since the last look (facts open read-only)."""
        rows, last = queued_assignments(self.ws, key, after=self._inbox_seen.get(key, 0))
        with self._state:
            known = self._assigned[key]
            for unit, variant in rows:
                known.setdefault(unit, variant)  # the first stored assignment wins
            self._inbox_seen[key] = max(last, self._inbox_seen.get(key, 0))

    def _lookup(self, key: str, unit_id: str) -> str | None:
        """A unit missing from this process's cache: what another worker may have stored since."""
        if self._queues:
            self._read_queued(key)
            found = self._assigned[key].get(unit_id)
            from levier.data.inbox import flushed_while_serving, refresh_after_flush

            if found is not None or not flushed_while_serving(self.ws):
                return found  # nothing is flushed while serving: the inbox has every row queued since start
            refresh_after_flush(self.ws)  # a row queued by another worker may have moved on to the facts
        elif self.workers <= 1:
            return None  # this process is the only writer: its cache is complete
        with self._facts:
            found = stored_variant(self.ws, key, unit_id)
        if found is not None:
            with self._state:
                found = self._assigned[key].setdefault(unit_id, found)
        return found

    def _exclusion(self, proto: Protocol, unit_id: str) -> str | None:
        """The exclusion rule ``unit_id`` meets under the protocol's rules (cached per unit), or None."""
        rules = [r for r in proto.exclusions if r in EXCLUSION_RULES]
        if proto.unit not in ("lead", "account") or not rules:
            return None
        entry_key = (proto.key, unit_id)
        with self._state:
            entry = self._excluded.get(entry_key)
            if entry is not None and self.clock() - entry[0] < self.ttl:
                self._excluded.move_to_end(entry_key)
                return entry[1]
        with self._facts:
            reason = unit_exclusion(self.ws, proto.unit, unit_id, rules)
        with self._state:
            self._excluded[entry_key] = (self.clock(), reason)
            self._excluded.move_to_end(entry_key)
            while len(self._excluded) > self.max_exclusions:
                self._excluded.popitem(last=False)
        return reason

    # -- the two public operations ------------------------------------------------------------
    def variant(self, key: str, unit_id: str) -> VariantAnswer:
        """The variant of ``unit_id`` (stored on the first call) and its arm's changes."""
        proto = self.published(key)
        known = self._known(key)
        stored = known.get(unit_id)
        if stored is None:
            stored = self._lookup(key, unit_id)
        new = False
        if stored is None:
            reason = self._exclusion(proto, unit_id)
            if reason is not None:
                return VariantAnswer(key, unit_id, None, excluded=True, reason=reason)
            variant = assign_variant(key, unit_id, proto.variants, proto.weights)
            with self._state:
                stored = known.get(unit_id)
                if stored is None:
                    stored, new = variant, True
                    known[unit_id] = variant
                    self._queue["assignments"].append({"experiment_key": key, "unit_id": unit_id,
                                                       "variant": variant, "assigned_at": _now()})
            self.flush()  # also when another request queued this unit: answer once it is stored
        arm = next((a for a in proto.arms if a.name == stored), None)
        changes = tuple(c.model_dump(exclude_none=True) for c in arm.changes) if arm else ()
        return VariantAnswer(key, unit_id, stored, changes, new=new)

    def record_event(self, key: str, unit_id: str, event_type: str, *, page: str | None = None,
                     referrer: str | None = None, anonymous_id: str | None = None,
                     utm: dict[str, str | None] | None = None) -> dict[str, Any]:
        """Store one exposure / conversion / form event of an assigned unit in ``web_events``."""
        proto = self.published(key)
        if event_type not in EVENT_TYPES:
            raise RuleError(_("Event type '{type}' is not accepted here; use one of: {types}.",
                              type=event_type, types=", ".join(EVENT_TYPES)))
        variant = self._known(key).get(unit_id) or self._lookup(key, unit_id)
        if variant is None:
            raise RuleError(_("Unit '{unit}' has no variant in experiment '{key}'.", unit=unit_id, key=key),
                            hint=_("Ask for its variant first (GET /api/v1/experiments/{key}/variant?unit_id=…).", key=key))
        utm = utm or {}
        row = {
            "event_id": f"lvr_{uuid.uuid4().hex}",
            "anonymous_id": _clip(anonymous_id, 200) or unit_id,
            "lead_id": unit_id if proto.unit == "lead" else None,
            "at": _now(),
            "type": event_type,
            "page": _clip(page),
            "utm_source": _clip(utm.get("utm_source"), 200),
            "utm_medium": _clip(utm.get("utm_medium"), 200),
            "utm_campaign": _clip(utm.get("utm_campaign"), 200),
            "referrer": _clip(referrer),
            "variant": qualified_variant(key, variant),
        }
        with self._state:
            self._queue["web_events"].append(row)
        self.flush()
        return row

    # -- writing ------------------------------------------------------------------------------
    def flush(self) -> dict[str, int]:
        """Write every queued row (one batch per table); rows of a failed write are re-queued."""
        written = {"assignments": 0, "web_events": 0}
        with self._facts:
            for table in written:
                with self._state:
                    rows, self._queue[table] = self._queue[table], []
                if not rows:
                    continue
                try:
                    written[table] = append_rows(self.ws, table, rows, source=f"levier live {table}",
                                                 preset="levier-live")
                except Exception:
                    with self._state:
                        self._queue[table] = rows + self._queue[table]
                    raise
        return written

    def pending(self) -> dict[str, int]:
        with self._state:
            return {t: len(rows) for t, rows in self._queue.items()}
