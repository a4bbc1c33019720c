"""Deterministic assignment: experiment key + unit id → variant, by weights.

``bucket(key, unit)`` = the first 52 bits of ``sha256("<key>/<unit>")`` (UTF-8) read as an
integer and divided by 2⁵² → a number in [0, 1) that is exactly representable as a float.
The variant is the first whose cumulative weight share exceeds the bucket. SHA-256 is in
Python's standard library, in DuckDB (``sha256``) and in Spark (``sha2(x, 256)``), so anyone
can recompute an assignment. The live endpoint computes it in Python for one unit; a batch
assignment computes it in the engine (:mod:`.engine`, decision 0200) with the same integer
arithmetic, and stores it in ``assignments``, so every engine reads the same rows (decision 0070).

Rules: excluded units (opt-out, VIP, litigation, do-not-contact, or an explicit list) are
never assigned; a unit already assigned keeps its variant whatever the new weights
(re-balancing only changes where *new* units go).
"""

from __future__ import annotations

import csv
import hashlib
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from levier.errors import OptionError
from levier.i18n import gettext as _

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["bucket", "assign_variant", "assign_batch", "AssignmentPlan", "UnitSplit", "split_units", "plan_assignments",
           "write_csv", "HASH_BITS", "EXCLUSION_RULES", "cumulative_thresholds", "balance_p_value", "check_variants"]

HASH_BITS = 52
_HEX = HASH_BITS // 4


def bucket(experiment_key: str, unit_id: str) -> float:
    """Position of ``unit_id`` in [0, 1) for ``experiment_key`` (uniform, deterministic)."""
    digest = hashlib.sha256(f"{experiment_key}/{unit_id}".encode()).hexdigest()
    return int(digest[:_HEX], 16) / float(1 << HASH_BITS)


def _cumulative(weights: Sequence[float]) -> list[float]:
    if not weights or min(weights) < 0 or sum(weights) <= 0:
        raise OptionError(_("Weights must be non-negative and not all zero (got {w}).", w=list(weights)))
    total, acc, out = float(sum(weights)), 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def check_variants(variants: Sequence[str], weights: Sequence[float] | None = None) -> list[float]:
    """The weights (equal by default) after checking variants and weights (OptionError otherwise)."""
    if len(variants) < 2:
        raise OptionError(_("An experiment needs at least two variants."))
    weights = weights if weights is not None else [1.0] * len(variants)
    if len(weights) != len(variants):
        raise OptionError(_("Give one weight per variant ({n} variants, {m} weights).", n=len(variants), m=len(weights)))
    _cumulative(weights)
    return [float(w) for w in weights]


def assign_variant(experiment_key: str, unit_id: str, variants: Sequence[str], weights: Sequence[float] | None = None) -> str:
    """The variant of ``unit_id`` (pure function; the web endpoint and the CLI both call it)."""
    weights = check_variants(variants, weights)
    return variants[bisect_right(_cumulative(weights), bucket(experiment_key, unit_id))]


def assign_batch(experiment_key: str, unit_ids: Iterable[str], variants: Sequence[str],
                 weights: Sequence[float] | None = None) -> dict[str, str]:
    """Variants of many units at once (same result as :func:`assign_variant` per unit)."""
    weights = weights if weights is not None else [1.0] * len(variants)
    cum = _cumulative(weights)
    return {u: variants[bisect_right(cum, bucket(experiment_key, u))] for u in unit_ids}


def cumulative_thresholds(weights: Sequence[float]) -> list[int]:
    """Integer thresholds of the variants: unit → variant ``i`` for the first ``i`` with ``h < T[i]``.

    ``h`` is the 52-bit integer of :func:`bucket` (bucket = h / 2⁵²). ``T[i] = ceil(cum[i] · 2⁵²)``
    is exact (scaling a float by a power of two is exact) and ``h / 2⁵² < cum[i]`` ⇔ ``h < T[i]``
    for an integer ``h``, so an engine comparing integers picks exactly the variant
    :func:`assign_variant` picks (``bisect_right`` on the same cumulative shares).
    """
    return [math.ceil(c * float(1 << HASH_BITS)) for c in _cumulative(weights)]


def balance_p_value(observed: Sequence[int], weights: Sequence[float]) -> float:
    """χ² p-value of new units per variant against the weights (1.0 when < 2 units)."""
    n = sum(observed)
    if n < 2:
        return 1.0
    tot = sum(weights)
    exp = [n * w / tot for w in weights]
    keep = [i for i, e in enumerate(exp) if e > 0]
    from scipy import stats as sps

    return float(sps.chisquare([observed[i] for i in keep], [exp[i] for i in keep]).pvalue)


#: exclusion rules, in the order a unit meeting several is reported under (then ``list``, an explicit list)
EXCLUSION_RULES = ("opted_out", "vip", "litigation", "do_not_contact")


def _reason_order(excluded: Mapping[str, int]) -> dict[str, int]:
    known = [r for r in (*EXCLUSION_RULES, "list") if r in excluded]
    return {r: int(excluded[r]) for r in known + sorted(set(excluded) - set(known))}


@dataclass(frozen=True)
class AssignmentPlan:
    """What an assignment does, as counts: new and kept units per variant, exclusions per reason.

    The one plan type, whoever computed it: the engine (:meth:`.engine.EngineAssignment.plan`)
    or Python on a list (:func:`plan_assignments`). Per-unit decisions are not part of it: a
    caller that needs them asks :func:`split_units` (small lists, tests) or the engine
    (:meth:`.engine.EngineAssignment.assigned`).
    """

    experiment_key: str
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    new_counts: dict[str, int] = field(default_factory=dict)
    kept_counts: dict[str, int] = field(default_factory=dict)
    excluded_by_reason: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, experiment_key: str, variants: Sequence[str], weights: Sequence[float], *, new: Mapping[str, int],
           kept: Mapping[str, int], excluded: Mapping[str, int]) -> AssignmentPlan:
        """The plan of these counts: every listed variant in ``new_counts`` (0 if none), reasons in rule order."""
        new_counts = {v: int(new.get(v, 0)) for v in variants}
        new_counts |= {str(v): int(n) for v, n in new.items() if v not in new_counts}
        return cls(experiment_key, tuple(variants), tuple(float(w) for w in weights), new_counts,
                   {str(v): int(n) for v, n in kept.items()}, _reason_order(excluded))

    @property
    def new(self) -> int:
        return sum(self.new_counts.values())

    @property
    def kept(self) -> int:
        return sum(self.kept_counts.values())

    @property
    def excluded(self) -> int:
        return sum(self.excluded_by_reason.values())

    @property
    def counts(self) -> dict[str, int]:
        """Assigned units per listed variant (kept + new).

        Kept units of a variant no longer listed are in :attr:`kept_counts` only.
        """
        return {v: self.new_counts.get(v, 0) + self.kept_counts.get(v, 0) for v in self.variants}

    @property
    def balance_p_value(self) -> float:
        """χ² p-value of the new units' split against the weights (1.0 when < 2 units)."""
        return balance_p_value([self.new_counts.get(v, 0) for v in self.variants], self.weights)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment_key": self.experiment_key, "variants": list(self.variants), "weights": list(self.weights),
                "new": self.new, "kept": self.kept, "excluded": self.excluded,
                "excluded_by_reason": dict(self.excluded_by_reason), "counts": self.counts,
                "balance_p_value": self.balance_p_value}

    def to_frame(self) -> pd.DataFrame:
        """One row per (status, variant or reason, units)."""
        import pandas as pd

        rows = ([("new", v, n) for v, n in self.new_counts.items()] + [("kept", v, n) for v, n in self.kept_counts.items()]
                + [("excluded", r, n) for r, n in self.excluded_by_reason.items()])
        return pd.DataFrame(rows, columns=["status", "group", "units"])


class UnitSplit(NamedTuple):
    """Per unit, for a list held in Python: ``new`` / ``kept`` unit → variant, ``excluded`` unit → reason."""

    new: dict[str, str]
    kept: dict[str, str]
    excluded: dict[str, str]

    def rows(self, experiment_key: str) -> list[dict[str, str]]:
        """Every assigned unit (kept first, then new), for :func:`write_csv`."""
        return [{"experiment_key": experiment_key, "unit_id": u, "variant": v} for u, v in {**self.kept, **self.new}.items()]

    def plan(self, experiment_key: str, variants: Sequence[str], weights: Sequence[float] | None = None) -> AssignmentPlan:
        """The counts of this split."""
        w = weights if weights is not None else [1.0] * len(variants)
        return AssignmentPlan.of(experiment_key, variants, w, new=Counter(self.new.values()),
                                 kept=Counter(self.kept.values()), excluded=Counter(self.excluded.values()))


def split_units(experiment_key: str, unit_ids: Iterable[str], variants: Sequence[str],
                weights: Sequence[float] | None = None, *, existing: Mapping[str, str] | None = None,
                exclusions: Mapping[str, str] | None = None) -> UnitSplit:
    """Assign the units not yet assigned and not excluded; never touch an existing assignment.

    The Python reference of the engine's plan (:mod:`.engine`), for lists held in memory.
    """
    check_variants(variants, weights)
    existing = existing or {}
    exclusions = exclusions or {}
    kept, excluded, todo = {}, {}, []
    for u in dict.fromkeys(str(x) for x in unit_ids):
        if u in existing:
            kept[u] = existing[u]
        elif u in exclusions:
            excluded[u] = exclusions[u]
        else:
            todo.append(u)
    return UnitSplit(assign_batch(experiment_key, todo, variants, weights), kept, excluded)


def plan_assignments(experiment_key: str, unit_ids: Iterable[str], variants: Sequence[str],
                     weights: Sequence[float] | None = None, *, existing: Mapping[str, str] | None = None,
                     exclusions: Mapping[str, str] | None = None) -> AssignmentPlan:
    """The counts of :func:`split_units` (the same plan the engine computes)."""
    split = split_units(experiment_key, unit_ids, variants, weights, existing=existing, exclusions=exclusions)
    return split.plan(experiment_key, variants, weights)


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """CRM import file: experiment_key, unit_id, variant (UTF-8, comma). Returns rows written."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["experiment_key", "unit_id", "variant"], extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow(row)
            n += 1
    return n
