"""Exact figures accumulated while generating (for ``ground_truth.json``)."""

from __future__ import annotations

import numpy as np

from levier.data.demo import truth as T
from levier.data.demo.funnel import observed_conversion
from levier.data.demo.leads import LeadChunk
from levier.data.demo.marketing import Journeys

__all__ = ["Tally"]

KCAP = 20
MATURE = np.datetime64("2026-10-01T00:00:00", "s").astype(np.int64)


class Tally:
    """Per segment × touch count: leads, expected conversions (Σp), observed conversions."""

    def __init__(self) -> None:
        shape = (len(T.SEGMENTS), KCAP + 1)
        self.n, self.p, self.obs = np.zeros(shape, np.int64), np.zeros(shape), np.zeros(shape, np.int64)
        self.ttf = np.zeros((2, 3))  # fast/slow × (n, Σp, observed) for mature inbound leads
        self.transitions = np.zeros((T.TRANSITIONS.shape[0], T.TRANSITIONS.shape[1]), np.int64)
        self.visitors = 0
        self.vip_accounts: set[int] = set()

    def add(self, c: LeadChunk, j: Journeys) -> None:
        k = np.minimum(c.k, KCAP)
        seen = observed_conversion(c)
        mature = (c.created < MATURE) & ~c.vip & (c.treatment < 0) & (c.created_recorded == c.created)
        np.add.at(self.n, (c.segment[mature], k[mature]), 1)
        np.add.at(self.p, (c.segment[mature], k[mature]), c.p[mature])
        np.add.at(self.obs, (c.segment[mature], k[mature]), seen[mature].astype(np.int64))
        inbound = mature & (c.channel == 0) & (c.k > 0)
        fast = c.ttf <= T.TTF_THRESHOLD_HOURS * 3600
        for row, m in enumerate((inbound & fast, inbound & ~fast)):
            self.ttf[row] += (m.sum(), c.p[m].sum(), seen[m].sum())
        self.transitions += j.transitions
        self.visitors += j.converted.size
        self.vip_accounts.update(int(a) for a in np.unique(c.account[c.vip]))

    def to_dict(self) -> dict[str, object]:
        curves = {}
        for s, name in enumerate(T.SEGMENTS):
            rows = {}
            for k in range(KCAP + 1):
                if self.n[s, k]:
                    rows[str(k)] = {"leads": int(self.n[s, k]), "expected_cr": round(self.p[s, k] / self.n[s, k], 4),
                                    "observed_cr": round(self.obs[s, k] / self.n[s, k], 4)}
            curves[name] = rows
        ttf = {}
        for row, label in enumerate(("within_2h", "after_2h")):
            n, p, o = self.ttf[row]
            ttf[label] = {"leads": int(n), "expected_cr": round(p / max(n, 1), 4), "observed_cr": round(o / max(n, 1), 4)}
        states = T.JOURNEY_STATES
        counts = {states[i]: {states[j + 1]: int(self.transitions[i, j]) for j in range(self.transitions.shape[1])}
                  for i in range(self.transitions.shape[0])}
        return {
            "recovered_in_this_data_set": {
                "population": "leads created before 2026-10-01 (mature), not VIP, outside the experiment, created_at not corrupted",
                "conversion_by_touches": curves,
                "inbound_ttf": ttf,
                "journey_transition_counts": counts,
                "visitors": self.visitors,
                "vip_account_ids": [f"A{a:09d}" for a in sorted(self.vip_accounts)],
            }
        }
