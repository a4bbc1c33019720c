"""Injected defects: decided once for the whole data set, applied chunk by chunk.

Every defect row is tagged with a ``kind`` code on :class:`TouchFrame` (or listed by id for
leads / deals) so ``ground_truth.json["defects"]`` lists exactly the injected ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from levier.data.demo import truth as T
from levier.data.demo.leads import LeadChunk, campaign_index
from levier.data.demo.touches import CH, KIND_CADENCE, KIND_REPLY, O, TouchFrame

__all__ = ["DefectPlan", "plan_defects", "KINDS", "apply_touch_defects", "apply_lead_defects", "apply_deal_defects"]

# kind code on touches → defect key
KINDS = {2: "exact_duplicates", 3: "near_duplicates", 4: "timezone_shift", 5: "future_touches",
         6: "hyperactive_rep", 7: "orphan_touches", 8: "touches_after_opt_out"}
K = {v: k for k, v in KINDS.items()}
EXTRACTION = T.EXTRACTION.astype(np.int64)
# defect → (rate per lead, floor): counts are max(floor, round(rate × N))
RATES = {
    "exact_duplicates": (0.010, 20), "near_duplicates": (0.008, 15), "future_touches": (0.002, 10),
    "orphan_touches": (0.002, 10), "opt_out_leads": (0.001, 5), "negative_amount": (0.0005, 3),
    "score_over_100": (0.001, 5), "created_before_2000": (0.0005, 3),
}
BAD_DATES = ("1970-01-01T00:00:00", "1899-12-30T00:00:00", "1900-01-01T00:00:00")


@dataclass
class DefectPlan:
    """Global decisions: counts per chunk, the shifted owner/week, the hyperactive owner/days."""

    allot: dict[str, np.ndarray]
    tz_owner: int
    tz_week: tuple[int, int]
    hyper_owner: int
    hyper_days: np.ndarray  # seconds at 00:00 UTC
    hyper_allot: np.ndarray  # [day, chunk]
    orphan_next: int = 0  # running number of orphan leads
    lead_ids: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in ("score_over_100", "created_before_2000")})

    def details(self, reps: tuple[T.Rep, ...]) -> dict[str, dict[str, object]]:
        lo, hi = np.array(self.tz_week).astype("datetime64[s]")
        days = self.hyper_days.astype("datetime64[s]").astype("datetime64[D]")
        return {
            "timezone_shift": {"owner": reps[self.tz_owner].owner, "week_from": str(lo), "week_to": str(hi),
                               "shift_hours": -2, "rule": "stored = true time − 2 h (Europe/Paris summer time stored as UTC)"},
            "hyperactive_rep": {"owner": reps[self.hyper_owner].owner,
                                "per_day": {str(d): int(n) for d, n in zip(days, self.hyper_allot.sum(axis=1), strict=True)}},
        }


def _split(total: int, sizes: list[int]) -> np.ndarray:
    """Largest-remainder split of ``total`` proportional to ``sizes``."""
    share = np.array(sizes, float) / max(sum(sizes), 1) * total
    out = np.floor(share).astype(np.int64)
    rest = total - int(out.sum())
    out[np.argsort(-(share - out), kind="stable")[:rest]] += 1
    return out


def plan_defects(rng: np.random.Generator, leads: int, chunk_sizes: list[int], reps: tuple[T.Rep, ...]) -> DefectPlan:
    allot = {k: _split(max(f, round(r * leads)), chunk_sizes) for k, (r, f) in RATES.items()}
    pme = [i for i, r in enumerate(reps) if r.team == T.TEAMS[0]]
    tz_owner = int(rng.choice(pme))
    others = [i for i in range(len(reps)) if i != tz_owner]
    hyper_owner = int(rng.choice(others))
    week = np.datetime64("2026-09-07T00:00:00", "s").astype(np.int64) + 7 * T.DAY * int(rng.integers(0, 3))
    october = np.datetime64("2026-10-05T00:00:00", "s").astype(np.int64) + T.DAY * np.arange(19)
    weekdays = october[((october // T.DAY) + 3) % 7 < 5]  # 1970-01-01 was a Thursday
    days = np.sort(rng.choice(weekdays, 3, replace=False))
    per_day = rng.integers(300, 501, 3)
    hyper_allot = np.stack([_split(int(n), chunk_sizes) for n in per_day])
    return DefectPlan(allot, tz_owner, (int(week), int(week + 7 * T.DAY)), hyper_owner, days, hyper_allot)


def opt_out_defect(rng: np.random.Generator, plan: DefectPlan, c: LeadChunk, f: TouchFrame, chunk: int) -> None:
    """Leads whose rep kept touching them after they opted out (1–3 touches after)."""
    eligible = np.flatnonzero((c.k >= 4) & ~c.converted & ~c.opt_out & ~c.vip & ~c.dnc
                              & (c.owner != plan.tz_owner) & (c.created < EXTRACTION - 23 * T.DAY))
    n = min(int(plan.allot["opt_out_leads"][chunk]), eligible.size)
    chosen = rng.choice(eligible, n, replace=False)
    cadence = np.flatnonzero(f.kind == KIND_CADENCE)
    starts = np.searchsorted(f.lead[cadence], c.start + chosen)  # cadence rows are sorted by lead
    after = rng.integers(1, 4, n)
    pivot = cadence[starts + c.k[chosen] - 1 - after]  # last touch before the opt-out
    nxt = pivot + 1
    c.opted_out_at[chosen] = f.at[pivot] + ((f.at[nxt] - f.at[pivot]) * rng.uniform(0.2, 0.8, n)).astype(np.int64)
    f.outcome[pivot] = np.where(f.channel[pivot] == CH["email"], O["unsubscribed"], f.outcome[pivot])
    for s, kk, m in zip(starts, c.k[chosen], after, strict=True):
        f.kind[cadence[s + kk - m: s + kk]] = K["touches_after_opt_out"]


def _copies(rng: np.random.Generator, plan: DefectPlan, f: TouchFrame, chunk: int) -> list[TouchFrame]:
    pool = np.flatnonzero((f.kind == KIND_CADENCE) & (f.at < EXTRACTION))
    n_exact = int(plan.allot["exact_duplicates"][chunk])
    n_near = int(plan.allot["near_duplicates"][chunk])
    picked = rng.choice(pool, min(n_exact + n_near, pool.size), replace=False)
    exact, near = f.take(picked[:n_exact]), f.take(picked[n_exact:])
    exact.kind[:] = K["exact_duplicates"]
    near.kind[:] = K["near_duplicates"]
    near.at = near.at + rng.integers(1, 31, near.size)
    return [exact, near]


def _frame(lead, at, channel, owner, outcome, campaign, kind) -> TouchFrame:  # noqa: ANN001
    n = lead.size
    return TouchFrame(lead, at, channel, np.zeros(n, np.int64), owner, outcome, campaign, np.full(n, kind))


def _seq(c: LeadChunk, idx: np.ndarray) -> np.ndarray:
    return np.array([campaign_index("seq-" + s.replace("/", "-")) for s in T.SEGMENTS])[c.segment[idx]]


def _future(rng: np.random.Generator, plan: DefectPlan, c: LeadChunk, chunk: int) -> TouchFrame:
    ok = np.flatnonzero((c.opted_out_at == 0) & ~c.dnc)
    idx = rng.choice(ok, min(int(plan.allot["future_touches"][chunk]), ok.size), replace=False)
    at = EXTRACTION + rng.integers(3600, 45 * T.DAY, idx.size)
    return _frame(c.start + idx, at, np.full(idx.size, CH["call"]), c.owner[idx],
                  np.full(idx.size, -1), _seq(c, idx), K["future_touches"])


def _hyperactive(rng: np.random.Generator, plan: DefectPlan, c: LeadChunk, chunk: int) -> TouchFrame:
    frames = []
    for day, n in zip(plan.hyper_days, plan.hyper_allot[:, chunk], strict=True):
        ok = np.flatnonzero((c.created < day - 31 * T.DAY) & (c.opted_out_at == 0) & ~c.dnc)
        if not ok.size or not n:
            continue
        idx = rng.choice(ok, int(n), replace=bool(ok.size < n))
        at = day + rng.integers(6 * 3600, 20 * 3600, idx.size)
        call = rng.random(idx.size) < 0.7
        frames.append(_frame(c.start + idx, at, np.where(call, CH["call"], CH["email"]),
                             np.full(idx.size, plan.hyper_owner), np.where(call, O["no_answer"], O["delivered"]),
                             _seq(c, idx), K["hyperactive_rep"]))
    return TouchFrame.concat(frames) if frames else _frame(*(np.zeros(0, np.int64),) * 6, K["hyperactive_rep"])


def _orphans(rng: np.random.Generator, plan: DefectPlan, c: LeadChunk, chunk: int, leads: int, n_reps: int) -> TouchFrame:
    n = int(plan.allot["orphan_touches"][chunk])
    lead = leads + 1 + plan.orphan_next + np.arange(n)
    plan.orphan_next += n
    at = T.START.astype(np.int64) + rng.integers(0, int(EXTRACTION - T.START.astype(np.int64)) - T.DAY, n)
    call = rng.random(n) < 0.5
    seq = np.array([campaign_index("seq-" + s.replace("/", "-")) for s in T.SEGMENTS])[rng.integers(0, 9, n)]
    return _frame(lead, at, np.where(call, CH["call"], CH["email"]), rng.integers(0, n_reps, n),
                  np.where(call, O["no_answer"], O["delivered"]), seq, K["orphan_touches"])


def apply_touch_defects(rng: np.random.Generator, plan: DefectPlan, c: LeadChunk, f: TouchFrame,
                        chunk: int, leads: int, n_reps: int) -> TouchFrame:
    """Censor legitimate touches at the extraction time and inject every touch defect."""
    opt_out_defect(rng, plan, c, f, chunk)
    f = f.take(np.flatnonzero(f.at < EXTRACTION))
    lo, hi = plan.tz_week
    shifted = (f.owner == plan.tz_owner) & (f.at >= lo) & (f.at < hi) & np.isin(f.kind, [KIND_CADENCE, KIND_REPLY])
    f.at = np.where(shifted, f.at - 2 * 3600, f.at)
    f.kind = np.where(shifted, K["timezone_shift"], f.kind)
    extra = _copies(rng, plan, f, chunk)
    extra += [_future(rng, plan, c, chunk), _hyperactive(rng, plan, c, chunk), _orphans(rng, plan, c, chunk, leads, n_reps)]
    out = TouchFrame.concat([f, *extra])
    return out.take(np.lexsort((out.at, out.lead)))


def apply_lead_defects(rng: np.random.Generator, plan: DefectPlan, c: LeadChunk, chunk: int) -> dict[str, np.ndarray]:
    """Scores > 100 and creation dates before 2000 on distinct leads; returns lead numbers."""
    n_score = int(plan.allot["score_over_100"][chunk])
    n_date = int(plan.allot["created_before_2000"][chunk])
    picked = rng.choice(c.n, min(n_score + n_date, c.n), replace=False)
    score, date = picked[:n_score], picked[n_score:]
    c.score_recorded[score] = np.round(rng.uniform(101, 999, score.size), 1)
    bad = np.array([np.datetime64(d, "s").astype(np.int64) for d in BAD_DATES])
    c.created_recorded[date] = bad[rng.integers(0, bad.size, date.size)]
    return {"score_over_100": c.start + score, "created_before_2000": c.start + date}


def apply_deal_defects(rng: np.random.Generator, plan: DefectPlan, deals: dict[str, np.ndarray], chunk: int) -> np.ndarray:
    """Negative amounts; returns the positions (in the chunk's deals) that were negated."""
    n = min(int(plan.allot["negative_amount"][chunk]), deals["amount"].size)
    idx = rng.choice(deals["amount"].size, n, replace=False)
    deals["amount"][idx] = -deals["amount"][idx]
    return idx
