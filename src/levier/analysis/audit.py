"""The monthly audit (DESIGN §1): frame → quantify → decide, as one typed result.

``run_audit(ws, options)`` builds the per-lead facts in the engine, reduces them to sufficient
statistics (a handful of ``GROUP BY`` queries), and finishes every figure in Python. The account
table stays in the engine (``levier.analysis.accounts``, decision 0222): only its reductions
(weighted points, the top of each account list) reach the driver.
``AuditResult.to_dict(lang)`` is the contract with the renderers (docs/audit-json.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from levier.analysis import accounts as accts
from levier.analysis import queries as q
from levier.analysis.cadence import Points
from levier.analysis.composition import (
    LARGE_ACCOUNTS,
    Composition,
    clusters_from,
    composition,
    large_cut,
)
from levier.analysis.decision import DecisionThresholds, decide
from levier.analysis.framing import AuditOptions, Framing, Period, resolve
from levier.analysis.metrics import definitions
from levier.analysis.outliers import MIN_LEADS
from levier.analysis.perlead import entity_column, lead_facts, lead_parts
from levier.analysis.segments import (
    Previous,
    SegmentResult,
    previous_stats,
    segment_result,
    subset,
)
from levier.data.parts import add_frames, parts
from levier.errors import AnalysisError
from levier.i18n import gettext as _

__all__ = ["AuditResult", "run_audit", "STEPS", "write_framing"]

STEPS = ("frame", "per-lead facts", "aggregates", "comparison", "segments", "decide", "dashboard")


@dataclass(frozen=True)
class AuditResult:
    """Everything the audit found; ``to_dict(lang)`` follows docs/audit-json.md."""

    framing: Framing
    overall: SegmentResult
    segments: tuple[SegmentResult, ...]
    composition: Composition
    clusters: tuple[dict, ...]
    thresholds: tuple[Any, ...]
    diagnostic: tuple[Any, ...]
    outliers: tuple[Any, ...]
    dashboard: Any
    cleaning: dict | None
    scatter: dict
    warnings: tuple[tuple[str, dict], ...] = ()
    timings: dict = field(default_factory=dict)

    def to_dict(self, lang: str | None = None) -> dict:
        f = self.framing
        comparison = None
        o = self.overall
        if o.previous is not None:
            comparison = {"previous": o.previous.to_dict(), "delta_cr_points": o.delta_cr_points, "cr_test_p": o.cr_test().p_value, "complaint_test_p": o.complaint_test().p_value, "quality_test_p": o.quality_test().p_value}
        return {
            "version": 1,
            "framing": f.to_dict(),
            "definitions": definitions(lang),
            "overall": o.to_dict(lang),
            "segments": [s.to_dict(lang) for s in self.segments],
            "composition": self.composition.to_dict(lang),
            "clusters": [{**c, "label": _(c["label"], lang=lang)} for c in self.clusters],
            "thresholds": [t.to_dict(lang) for t in self.thresholds],
            "diagnostic": [d.to_dict(lang) for d in self.diagnostic],
            "outliers": [x.to_dict(lang) for x in self.outliers],
            "dashboard": self.dashboard.to_dict(lang),
            "comparison": comparison,
            "cleaning": self.cleaning,
            "scatter": self.scatter,
            "warnings": [_(msg, lang=lang, **params) for msg, params in self.warnings],
        }

    def to_frame(self) -> pd.DataFrame:
        """The segment table: one row per segment (plus the overall row first)."""
        rows = []
        for s in (self.overall, *self.segments):
            c = s.correlation
            rows.append({
                "segment": s.label, "n": s.n, "conversions": s.conversions, "conversion_rate": s.conversion_rate,
                "contacts_median": s.contacts["median"], "contacts_q1": s.contacts["q1"], "contacts_q3": s.contacts["q3"], "contacts_mean": s.contacts["mean"],
                "ttf_median_hours": s.ttf.median_hours, "ttf_p90_hours": s.ttf.p90_hours, "share_within_sla": s.ttf.share_within_sla,
                "r": c.r, "r_ci_low": c.r_ci[0] if c.r_ci else None, "r_ci_high": c.r_ci[1] if c.r_ci else None, "spearman": c.spearman,
                "slope": c.slope, "intercept": c.intercept, "r2": c.r2, "p_value": c.p_value,
                "q1": s.quadrants.counts["q1"], "q2": s.quadrants.counts["q2"], "q3": s.quadrants.counts["q3"], "q4": s.quadrants.counts["q4"],
                "shape": s.response_curve.fit.shape, "knee": s.response_curve.fit.knee, "complaint_rate": s.complaint_rate,
                "delta_cr_points": s.delta_cr_points, "traffic_light": s.light.colour if s.light else None, "code": s.code,
            })
        return pd.DataFrame(rows)

    def save_json(self, path: str | Path, lang: str | None = None) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(lang), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return path


def write_framing(result: AuditResult, out_dir: str | Path) -> Path:
    """The framing note (framing.json) next to the outputs (the loop store comes later)."""
    path = Path(out_dir) / "framing.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.framing.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return path


# -- orchestration -----------------------------------------------------------------------------

def _scalar(expr: Any) -> Any:
    v = expr.execute()
    return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()


def _frame(ws: Any, options: AuditOptions) -> Framing:
    from levier import __version__

    leads, stages = ws.table("leads"), ws.table("stage_events")
    latest = _scalar(leads.created_at.max())
    last_stage = _scalar(stages.at.max())
    extraction = max([d for d in (latest, last_stage) if d is not None], default=None)
    return resolve(options, latest_lead=latest, extraction_time=extraction, stages=tuple(ws.config.stages), workspace=ws.config.name, backend=ws.facts.backend_name, version=__version__)


def _keys(cells: pd.DataFrame, segment_by: tuple[str, ...]) -> list[dict]:
    if not segment_by:
        return []
    cols = [f"seg_{c}" for c in segment_by]
    combos = cells[cols].drop_duplicates().sort_values(cols).itertuples(index=False)
    return [dict(zip(segment_by, map(str, combo), strict=True)) for combo in combos]


def _entity(ent: dict, unit: str, key: dict, min_leads: int) -> pd.DataFrame | Points | None:
    """The entities of segment ``key``: the rep frame summed per rep, or the account points."""
    col = entity_column(unit)
    if col is None:
        return None
    if isinstance(ent[col], accts.AccountTable):
        return ent[col].points(key, min_leads)
    return _regroup(subset(ent[col], key), unit)


def run_audit(ws: Any, options: AuditOptions | None = None, *, progress: Callable[[str], None] | None = None) -> AuditResult:
    """Run the monthly audit on workspace ``ws`` (see the module docstring)."""
    options = options or AuditOptions()
    step = progress or (lambda name: None)
    timings: dict[str, float] = {}
    t0 = datetime.now()

    def tick(name: str) -> None:
        timings[name] = round((datetime.now() - t0).total_seconds(), 3)
        step(name)

    framing = _frame(ws, options)
    tick("frame")
    th = options.thresholds if isinstance(options.thresholds, DecisionThresholds) else DecisionThresholds()
    segs = q.seg_cols(framing.segment_by)
    tables = {name: ws.table(name) for name in ("leads", "stage_events", "touches")}
    agg = _aggregates(tables, framing, framing.period, segs, lead_parts(ws, tables["leads"], framing.period), tick=tick)
    prev = None
    try:  # the account tables stay in the engine until the audit is assembled
        cells = agg.pop("cells")
        if not len(cells):
            raise AnalysisError(
                _("No lead was created in the period {period}.", period=framing.period.label),
                hint=_("Choose a period with data (--period), or check the import (levier info)."),
            )
        agg["reps"] = q.rep_daily_max(tables["touches"], framing.period.start_dt, framing.period.end_dt)
        tick("aggregates")
        prev = _previous(ws, tables, framing, segs)
        tick("comparison")
        return _assemble(ws, framing, cells, agg, prev, th, timings, tick)
    finally:
        for a in (agg, prev):
            if a is not None:
                a["ent"]["account_id"].release()


#: the keys of each reduction: cells with the same keys are added across hash parts
_KEYS = {
    "cells": ("x", "converted"), "ttf": ("ttf_min", "converted"), "last_day": ("last_day",),
    "daily": ("channel", "k"),
}


def _aggregates(tables: dict, framing: Framing, period: Period, segs: list[str], n_parts: int, *,
                tick: Callable[[str], None] | None = None, full: bool = True) -> dict:
    """The reductions of the per-lead facts of ``period``, one hash part of the leads at a time.

    Each part's facts are materialised once (a temporary table) and reduced; every reduction is
    a count, a sum or a maximum over leads, so the parts' cells add up (``levier.data.parts``,
    decision 0205). ``full=False``: only the cells and the entities (the comparison period).
    The accounts stay in the engine: ``out["ent"]["account_id"]`` is an
    :class:`~levier.analysis.accounts.AccountTable` the caller releases.
    """
    per: list[dict] = []
    held: list = []  # each part's account rows, cached in the engine
    keep = min(framing.min_entity_leads, MIN_LEADS)  # smaller accounts are in no account figure
    acc_segs = segs if framing.unit == "account" else []  # per segment only for the account unit's points
    try:
        for part in parts(n_parts):
            with lead_facts(tables, framing, period, part).cache() as facts:
                if tick is not None and not per:
                    tick("per-lead facts")
                acc, moments = q.accounts(facts, acc_segs, keep)
                held.append(acc.cache())
                one = {"cells": q.cells(facts, segs), "owner": q.entities(facts, segs, "owner"), "moments": moments}
                if full:
                    one |= {
                        "ttf": q.ttf_histogram(facts, segs),
                        "last_day": q.last_day_histogram(facts, segs),
                        "clusters": q.clusters(facts),
                        "daily": q.daily_volume(tables["touches"], facts, segs),
                        "top_leads": q.top_leads(facts),
                    }
                per.append(one)
        accounts = accts.collect(held, acc_segs)
    except BaseException:
        for t in held:
            t.release()
        raise
    out: dict = {name: add_frames([p[name] for p in per], [*segs, *keys]) for name, keys in _KEYS.items() if name in per[0]}
    out["ent"] = {"account_id": accounts, "owner": add_frames([p["owner"] for p in per], [*segs, "owner"], maxes=("vip",))}
    out["account_moments"] = add_frames([p["moments"] for p in per], []).iloc[0].to_dict()
    if full:
        out["clusters"] = add_frames([p["clusters"] for p in per], q.CLUSTER_KEYS)
        top = pd.concat([p["top_leads"] for p in per], ignore_index=True) if len(per) > 1 else per[0]["top_leads"]
        out["top_leads"] = top.sort_values(["x", "lead_id"], ascending=[False, True]).head(q.TOP_LEADS).reset_index(drop=True)
    return out


def _previous(ws: Any, tables: dict, framing: Framing, segs: list[str]) -> dict | None:
    if framing.compare_to is None:
        return None
    return _aggregates(tables, framing, framing.compare_to, segs, lead_parts(ws, tables["leads"], framing.compare_to), full=False)


def _segment(key: dict, cells: pd.DataFrame, agg: dict, prev: dict | None, framing: Framing) -> SegmentResult:
    m = framing.min_entity_leads
    previous: Previous | None = None
    if prev is not None:
        previous = previous_stats(framing.compare_to.label, subset(prev["cells"], key), _entity(prev["ent"], framing.unit, key, m), framing.unit, m)
    return segment_result(
        key, subset(cells, key), subset(agg["ttf"], key), _entity(agg["ent"], framing.unit, key, m),
        unit=framing.unit, min_leads=m, sla_hours=framing.ttf_sla_hours, previous=previous,
    )


def _regroup(ent: pd.DataFrame, unit: str) -> pd.DataFrame:
    """Entity rows summed over the segments they span (one row per entity)."""
    col = entity_column(unit)
    return ent.groupby(col, as_index=False)[["leads", "touches", "conversions", "complaints", "out_touches", "vip"]].sum()


def _assemble(ws: Any, framing: Framing, cells: pd.DataFrame, agg: dict, prev: dict | None, th: DecisionThresholds, timings: dict, tick: Callable[[str], None]) -> AuditResult:
    from levier.analysis import diagnostic, outliers, thresholds
    from levier.analysis.scatter import scatter

    overall = _segment({}, cells, agg, prev, framing)
    segments = [_segment(k, cells, agg, prev, framing) for k in _keys(cells, framing.segment_by)]
    tick("segments")
    comp = composition(overall, segments)
    segments = [_with_light(s, th, False) for s in segments]
    colours = {s.light.colour for s in segments if s.light.colour != "grey"}
    overall = _with_light(overall, th, comp.warning or len(colours) > 1)
    clusters = clusters_from(agg["clusters"], _large(agg), agg["account_moments"])
    ths = tuple(thresholds.propose(s, subset(agg["last_day"], s.key), subset(agg["daily"], s.key), framing, th) for s in segments or [overall])
    outl = tuple(outliers.top_outliers(ws, agg, overall, framing))
    diag = tuple(diagnostic.express(overall, segments, comp, clusters, outl, th, framing))
    tick("decide")
    board = _dashboard(overall, agg, prev, framing)
    cleaning = _cleaning(ws)
    warnings = _warnings(overall, framing) + _cleaning_lag(ws)
    result = AuditResult(framing, overall, tuple(segments), comp, clusters, ths, diag, outl, board, cleaning, scatter(cells, agg, framing, overall), tuple(warnings), timings)
    tick("dashboard")
    return result


def _large(agg: dict) -> pd.DataFrame:
    """The accounts above the large-account cut (the largest first; the clusters keep 10)."""
    cut = large_cut(agg["account_moments"])
    if cut is None:
        return pd.DataFrame(columns=["account_id", "leads", "touches", "conversions", "vip"])
    return agg["ent"]["account_id"].above(cut, LARGE_ACCOUNTS)


def _dashboard(overall: SegmentResult, agg: dict, prev: dict | None, framing: Framing) -> Any:
    """The one-page dashboard, its account view reduced in the engine (``accounts.view`` / ``pick``)."""
    from levier.analysis import dashboard as dash

    m, acc = framing.min_entity_leads, agg["ent"]["account_id"]
    pacc = None if prev is None else prev["ent"]["account_id"]
    cur, before = accts.view(acc, m), (None if pacc is None else accts.view(pacc, m))
    coach = accts.pick(acc, cur, pacc, before, "q3", ["leads"], m, dash.LIST_SIZE)
    imitate = accts.pick(acc, cur, pacc, before, "q1", ["conversion_rate", "leads"], m, dash.LIST_SIZE)
    return dash.build(overall, framing, coach, imitate, cur.n)


def _with_light(s: SegmentResult, th: DecisionThresholds, heterogeneous: bool) -> SegmentResult:
    from dataclasses import replace

    light = decide(s.correlation, n=s.n, delta_cr_points=s.delta_cr_points, complaint_test=s.complaint_test(), heterogeneous=heterogeneous, th=th)
    return replace(s, light=light)


def _warnings(overall: SegmentResult, framing: Framing) -> list[tuple[str, dict]]:
    out = []
    if overall.censored:
        out.append((
            "{n} leads ({share:.0%}) have a conversion window ending after the extraction time ({when}): their conversion may still come.",
            {"n": overall.censored, "share": overall.censored / overall.n, "when": framing.extraction_time.isoformat(sep=" ") if framing.extraction_time else "?"},
        ))
    return out


def _cleaning_lag(ws: Any) -> list[tuple[str, dict]]:
    """A warning when files were imported after the latest cleaning run (its exclusions may lapse)."""
    from levier.data.journal import CLEANING_LAG, cleaning_lag

    lag = cleaning_lag(ws)
    return [] if lag is None else [(CLEANING_LAG, lag.params())]


def _cleaning(ws: Any) -> dict | None:
    """The cleaning journal summary (provided by levier.data.clean when it exists)."""
    try:
        from levier.data.clean import journal_summary
    except ImportError:
        return None
    try:
        summary = journal_summary(ws)
    except Exception:  # noqa: BLE001 — a journal problem must not sink the audit
        return None
    return summary.to_dict() if hasattr(summary, "to_dict") else summary

