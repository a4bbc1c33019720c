"""Demo data generator: a realistic, deterministic data set with a known ground truth.

``generate(out_dir, leads=20_000, seed=7)`` writes one file per canonical table plus
``ground_truth.json`` (what the analyses must recover and every injected defect, by id).
Leads are generated in chunks (vectorised NumPy) and written chunk by chunk, so memory stays
flat: see ``docs/demo-data.md`` and the contract in ``docs/dev/demo-contract.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from levier.data.demo import truth as T
from levier.data.demo._arrow import FORMATS, TableWriter, ids
from levier.data.demo.defects import (
    KINDS,
    apply_deal_defects,
    apply_lead_defects,
    apply_touch_defects,
    plan_defects,
)
from levier.data.demo.experiment import ExperimentTally, assignment_columns
from levier.data.demo.funnel import deal_columns, order_columns, plan_deals, stage_columns
from levier.data.demo.leads import lead_columns, plan_leads
from levier.data.demo.marketing import SpendLedger, simulate_journeys, web_columns
from levier.data.demo.tally import Tally
from levier.data.demo.touches import cadence_touches, touch_columns
from levier.data.schema import TABLE_NAMES
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["generate", "DemoSummary", "CHUNK_LEADS", "MIN_LEADS", "MAX_LEADS"]

CHUNK_LEADS = 50_000
MIN_LEADS = 200
MAX_LEADS = 50_000_000
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    files: dict[str, Path]
    rows: dict[str, int]
    seconds: float
    leads: int
    seed: int
    format: str
    ground_truth: Path = field(default=Path("ground_truth.json"))

    def to_dict(self) -> dict[str, object]:
        return {
            "out_dir": str(self.out_dir),
            "files": {k: str(v) for k, v in self.files.items()},
            "rows": dict(self.rows),
            "seconds": round(self.seconds, 3),
            "leads": self.leads,
            "seed": self.seed,
            "format": self.format,
            "ground_truth": str(self.ground_truth),
        }


def _check(leads: int, seed: int, fmt: str, touches_per_lead: float) -> None:
    if not MIN_LEADS <= leads <= MAX_LEADS:
        raise OptionError(_("--leads must be between {lo} and {hi} (got {n}).", lo=MIN_LEADS, hi=MAX_LEADS, n=leads))
    if seed < 0:
        raise OptionError(_("--seed must be a non-negative integer (got {n}).", n=seed))
    if fmt not in FORMATS:
        raise OptionError(_("--format must be parquet or csv (got '{fmt}').", fmt=fmt))
    if not 1.0 <= touches_per_lead <= 40.0:
        raise OptionError(_("--touches-per-lead must be between 1 and 40 (got {n}).", n=touches_per_lead))


def generate(out_dir: str | Path, leads: int = 20_000, seed: int = 7, fmt: str = "parquet",
             progress: Progress | None = None, touches_per_lead: float = T.DEFAULT_TOUCHES_PER_LEAD) -> DemoSummary:
    """Write the demo data set into ``out_dir`` and return a :class:`DemoSummary`.

    Same ``(leads, seed, fmt, touches_per_lead)`` → byte-identical files.
    """
    _check(leads, seed, fmt, touches_per_lead)
    began = time.perf_counter()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(_("Cannot create the output directory {path}: {err}", path=out, err=exc)) from None
    g = np.random.default_rng([seed, 0])
    reps = T.build_reps(leads, g)
    sizes = [min(CHUNK_LEADS, leads - s) for s in range(0, leads, CHUNK_LEADS)]
    plan = plan_defects(g, leads, sizes, reps)
    width = max(8, len(str(leads * 2)))
    writer = TableWriter(out, fmt)
    run = _Run(leads, reps, plan, width, writer, touches_per_lead)
    try:
        start = 0
        for i, n in enumerate(sizes):
            run.chunk(np.random.default_rng([seed, i + 1]), i, start, n)
            start += n
            if progress:
                progress(start, leads)
        writer.write("spend", run.spend.columns(np.random.default_rng([seed, len(sizes) + 1])))
        for name in TABLE_NAMES:
            if name not in writer.files:
                writer.write(name, _empty(name))
    finally:
        writer.close()
    truth_path = out / "ground_truth.json"
    rows = {name: writer.rows.get(name, 0) for name in TABLE_NAMES}
    payload = run.ground_truth(seed, fmt, rows)
    truth_path.write_text(json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return DemoSummary(out, {n: writer.files[n] for n in TABLE_NAMES}, rows, time.perf_counter() - began,
                       leads, seed, fmt, truth_path)


def _empty(name: str) -> dict[str, object]:
    import pyarrow as pa

    from levier.data.demo._arrow import arrow_schema

    return {f.name: pa.array([], f.type) for f in arrow_schema(name)}


class _Run:
    """State carried across chunks: counters, defect ids, tallies, spend."""

    def __init__(self, leads: int, reps: tuple[T.Rep, ...], plan, width: int, writer: TableWriter,  # noqa: ANN001
                 touches_per_lead: float) -> None:
        self.leads, self.reps, self.plan, self.width, self.writer = leads, reps, plan, width, writer
        self.touches_per_lead = touches_per_lead
        self.next = {"touch": 0, "event": 0, "visitor": 0, "deal": 0, "order": 0}
        self.defect_ids: dict[str, list[str]] = {k: [] for k in KINDS.values()}
        self.lead_defects: dict[str, list[str]] = {"score_over_100": [], "created_before_2000": []}
        self.deal_defects: list[str] = []
        self.spend = SpendLedger()
        self.experiment = ExperimentTally()
        self.tally = Tally()

    def chunk(self, rng: np.random.Generator, i: int, start: int, n: int) -> None:
        c = plan_leads(rng, start, n, self.reps, self.touches_per_lead)
        journeys = simulate_journeys(rng, int(((c.channel == 0) & ~c.vip).sum()))
        web = web_columns(rng, journeys, c, self.next["event"], self.next["visitor"], self.width, self.spend)
        self.next["event"] += len(web["event_id"])
        self.next["visitor"] += journeys.converted.size
        f = cadence_touches(rng, c, self.reps)
        c.opted_out_at[c.opted_out_at >= T.EXTRACTION.astype(np.int64)] = 0
        f = apply_touch_defects(rng, self.plan, c, f, i, self.leads, len(self.reps))
        bad_leads = apply_lead_defects(rng, self.plan, c, i)
        deals = plan_deals(rng, c)
        orders = order_columns(rng, deals, c, self.next["order"])
        negative = apply_deal_defects(rng, self.plan, deals, i)
        deal_numbers = self.next["deal"] + np.arange(deals["lead"].size)
        self.next["deal"] += deal_numbers.size
        self.next["order"] += len(orders["order_id"])
        touch_numbers = self.next["touch"] + rng.permutation(f.size)
        self.next["touch"] += f.size
        self._collect(f, touch_numbers, bad_leads, deal_numbers[negative])
        self.tally.add(c, journeys)
        self.experiment.add(c)
        w = self.writer
        w.write("leads", lead_columns(c, self.reps, self.width))
        w.write("stage_events", stage_columns(rng, c, deals, self.width))
        w.write("touches", touch_columns(f, touch_numbers, self.reps, self.width))
        w.write("deals", deal_columns(deals, c, deal_numbers, self.width))
        w.write("web_events", web)
        w.write("assignments", assignment_columns(c, self.width))
        w.write("orders", orders)

    def _collect(self, f, touch_numbers: np.ndarray, bad_leads: dict[str, np.ndarray], neg: np.ndarray) -> None:  # noqa: ANN001
        for code, key in KINDS.items():
            m = f.kind == code
            if m.any():
                self.defect_ids[key] += ids("T", touch_numbers[m], 10).to_pylist()
        for key, numbers in bad_leads.items():
            self.lead_defects[key] += ids("L", numbers, self.width).to_pylist()
        self.deal_defects += ids("D", neg, 9).to_pylist()

    def defects(self) -> dict[str, dict[str, object]]:
        details = self.plan.details(self.reps)
        out: dict[str, dict[str, object]] = {}
        for key, id_list in self.defect_ids.items():
            out[key] = {"table": "touches", "count": len(id_list), "ids": sorted(id_list),
                        "details": details.get(key, {})}
        parts = {
            "negative_amount": {"table": "deals", "column": "amount", "ids": sorted(self.deal_defects)},
            "score_over_100": {"table": "leads", "column": "score", "ids": sorted(self.lead_defects["score_over_100"])},
            "created_before_2000": {"table": "leads", "column": "created_at",
                                    "ids": sorted(self.lead_defects["created_before_2000"])},
        }
        all_ids = [x for p in parts.values() for x in p["ids"]]  # type: ignore[union-attr]
        out["impossible_values"] = {"table": "deals,leads", "count": len(all_ids), "ids": all_ids, "details": parts}
        return out

    def ground_truth(self, seed: int, fmt: str, rows: dict[str, int]) -> dict[str, object]:
        from levier import __version__

        truth = T.describe()
        truth["reps"] = [r.to_dict() for r in self.reps]
        truth["experiment"] = self.experiment.to_dict()
        truth.update(self.tally.to_dict())
        return {
            "generator": {"name": "levier demo-data", "version": __version__, "leads": self.leads, "seed": seed,
                          "format": fmt, "touches_per_lead": self.touches_per_lead, "chunk_leads": CHUNK_LEADS},
            "rows": rows,
            **truth,
            "defects": self.defects(),
        }
