"""The demo experiment: a seeded 50/50 split of October leads with a known uplift.

The split itself is drawn in :func:`levier.data.demo.leads.plan_leads` (``treatment``) and the
uplift applied to the conversion probability there; this module writes the ``assignments``
rows and keeps the exact expected and observed figures per arm for ``ground_truth.json``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from levier.data.demo import truth as T
from levier.data.demo._arrow import ids, labels, timestamps
from levier.data.demo.funnel import observed_conversion
from levier.data.demo.leads import LeadChunk

__all__ = ["ExperimentTally", "assignment_columns"]


class ExperimentTally:
    """Units, expected conversions (sum of p) and observed conversions per arm."""

    def __init__(self) -> None:
        self.units = np.zeros(2, np.int64)
        self.expected = np.zeros(2)
        self.observed = np.zeros(2, np.int64)
        self.both = np.zeros(2)  # Σp of every unit under control / under treatment

    def add(self, c: LeadChunk) -> None:
        seen = observed_conversion(c)
        for arm in (0, 1):
            m = c.treatment == arm
            self.units[arm] += int(m.sum())
            self.expected[arm] += float(c.p[m].sum())
            self.both[arm] += float(c.p_arms[arm][c.treatment >= 0].sum())
            self.observed[arm] += int((seen & m).sum())

    def to_dict(self) -> dict[str, object]:
        units = np.maximum(self.units, 1)
        exp_cr = self.expected / units
        obs_cr = self.observed / units
        return {
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in T.EXPERIMENT.items()},
            "units": dict(zip(T.EXPERIMENT["variants"], self.units.tolist(), strict=True)),
            "expected_conversion_rate_uncensored": dict(zip(T.EXPERIMENT["variants"], exp_cr.round(6).tolist(), strict=True)),
            "expected_relative_uplift_after_cap": round(float(self.both[1] / self.both[0] - 1), 6) if self.both[0] else None,
            "observed_conversions": dict(zip(T.EXPERIMENT["variants"], self.observed.tolist(), strict=True)),
            "observed_conversion_rate": dict(zip(T.EXPERIMENT["variants"], obs_cr.round(6).tolist(), strict=True)),
            "note": "observed conversions are censored at the extraction time (leads created late in October "
                    "have not had 30 days yet); the censoring does not depend on the arm",
        }


def assignment_columns(c: LeadChunk, width: int) -> dict[str, pa.Array]:
    idx = np.flatnonzero(c.treatment >= 0)
    return {
        "experiment_key": pa.array(np.full(idx.size, T.EXPERIMENT["experiment_key"])),
        "unit_id": ids("L", c.start + idx, width),
        "variant": labels(T.EXPERIMENT["variants"], c.treatment[idx]),
        "assigned_at": timestamps(c.created[idx]),
    }
