"""Shared set-up of the assignment tests (engine on DuckDB: test_engine.py; DuckDB ↔ Spark: tests/parity).

Facts with every exclusion rule and existing assignments (a unit assigned twice, a unit of an
arm no longer listed, a unit that is not a lead), the engine's hash / bucket / variant of many
ids in one query, the Python reference plan, and one plan → store → read-back run whose result
both engines must give.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from levier.analysis.experiments.assignment import HASH_BITS, UnitSplit, split_units
from levier.analysis.experiments.engine import bucket_int, plan_in_engine, units_table, variant_expr
from levier.analysis.experiments.storage import existing_assignments, unit_exclusion

__all__ = ["ARMS", "EDGE_IDS", "KEY", "LISTED", "BEFORE", "RULE_EXCLUSIONS", "frames", "engine_variants",
           "reference", "plan_store_run", "write_ids"]

ARMS = ["control", "b", "c"]
KEY = "exp"
#: ids an engine may hash differently from Python: empty, spaces, accents (composed and not),
#: CJK, emoji, slashes, long, quotes, tab, ligature — each once
EDGE_IDS = ["L1", "", " ", "é", "e\u0301", "Zoë/ß", "日本語", "😀👍", "a/b/c", "x" * 500, "NULL", "0", "-1", "L1 ", "\t",
            "'quote\"", "ﬁ"]
#: an explicit exclusion list (L005 is already assigned: it is kept, not excluded)
LISTED = ["L011", "L012", "L005"]
#: first assignments of ``exp`` before the run (L001 was assigned twice: its first arm wins)
BEFORE = {"L001": "b", "L002": "old-arm", "L005": "c", "ghost": "b"}
#: lead → the exclusion rule it meets in :func:`frames` (rule order: opted_out, vip, litigation, do_not_contact)
RULE_EXCLUSIONS = {"L003": "opted_out", "L040": "opted_out", "L007": "vip", "L009": "do_not_contact"}


def frames(leads: int = 90) -> dict[str, list[dict[str, Any]]]:
    """``leads`` leads (3 per account; L003 and L040 opted out, L005 and L007 VIP, L007 also in litigation,
    L009 do-not-contact) and the assignments of :data:`BEFORE` plus one of another experiment."""
    rows = [dict(lead_id=f"L{i:03d}", account_id=f"A{i // 3}", created_at=datetime(2026, 9, 1 + i % 28),
                 opted_out_at=datetime(2026, 9, 2) if i in (3, 40) else None, vip=i in (5, 7), litigation=i == 7,
                 do_not_contact=i == 9) for i in range(leads)]
    first = [dict(experiment_key=KEY, unit_id=u, variant=v, assigned_at=datetime(2026, 8, 1)) for u, v in BEFORE.items()]
    later = [dict(experiment_key=KEY, unit_id="L001", variant="c", assigned_at=datetime(2026, 8, 2)),
             dict(experiment_key="other", unit_id="L010", variant="x", assigned_at=datetime(2026, 8, 1))]
    return {"leads": rows, "assignments": first + later}


def engine_variants(con: Any, ids: list[str], cases: list[tuple[str, list[float] | None]]) -> list[dict[str, tuple[int, float, str]]]:
    """Per (key, weights) case: unit → (h, bucket, variant) computed by the engine ``con``, all cases in one query.

    Each key is hashed once (a column), as :func:`plan_in_engine` does.
    """
    t = units_table(ids)
    t = t.mutate(**{f"h{i}": bucket_int(key, t.unit_id) for i, (key, _w) in enumerate(cases)})
    cols: dict[str, Any] = {"unit_id": t.unit_id}
    for i, (_key, weights) in enumerate(cases):
        h = t[f"h{i}"]
        cols |= {f"h{i}": h, f"b{i}": h.cast("float64") / float(1 << HASH_BITS), f"v{i}": variant_expr(h, ARMS, weights)}
    df = con.execute(t.select(**cols))
    return [{str(u): (int(h), float(b), str(v)) for u, h, b, v in zip(df["unit_id"], df[f"h{i}"], df[f"b{i}"], df[f"v{i}"],
                                                                      strict=True)}
            for i in range(len(cases))]


def reference(leads: int, weights: list[float]) -> UnitSplit:
    """The Python reference of the run of :func:`plan_store_run` on :func:`frames` (``leads`` leads)."""
    ids = [f"L{i:03d}" for i in range(leads)]
    return split_units(KEY, ids, ARMS, weights, existing=BEFORE,
                       exclusions={**RULE_EXCLUSIONS, **{u: "list" for u in LISTED}})


def write_ids(path: Path, ids: list[str], header: str | None = "lead_id") -> Path:
    """A unit file as a CRM exports it: a header, then one id per row."""
    path.write_text("".join(f"{x}\n" for x in ([header] if header else []) + ids), encoding="utf-8")
    return path


def plan_store_run(ws: Any, excluded: Any, weights: list[float], at: datetime = datetime(2026, 11, 1)) -> dict[str, Any]:
    """Plan ``exp`` (excluding the table ``excluded``), store it, and read back what an engine must agree on."""
    job = plan_in_engine(ws, KEY, ARMS, weights, excluded=excluded)
    plan = job.plan()
    stored = job.store(at)
    imports = ws.facts.imports()
    last = imports.filter(imports.table_name == "assignments").order_by(imports.batch_id.desc()).limit(1).execute()
    raw = ws.facts.raw("assignments")
    batch = raw.filter(raw._batch == int(last["batch_id"].iloc[0])).execute()
    return {"plan": plan.to_dict(), "stored": stored, "rows_inserted": int(last["rows_inserted"].iloc[0]),
            "file_name": str(last["file_name"].iloc[0]), "row_ids": sorted(int(x) for x in batch["_row_id"]),
            "assigned_at": sorted({str(x) for x in batch["assigned_at"]}), "assigned": existing_assignments(ws, KEY),
            "excluded_A2": unit_exclusion(ws, "account", "A2", ["litigation", "vip"])}
