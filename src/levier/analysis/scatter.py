"""The scatter of the audit note: aggregated points, means and trend line."""

from __future__ import annotations

import pandas as pd

from levier.analysis.perlead import entity_column
from levier.analysis.segments import label_of

__all__ = ["scatter", "MAX_ENTITY_POINTS"]

MAX_ENTITY_POINTS = 5000  # account/rep unit: the largest entities are kept beyond this


def scatter(cells: pd.DataFrame, agg: dict, framing, overall) -> dict:  # noqa: ANN001
    """Lead unit: one point per (segment, touches) with y = CR and n = leads; account/rep unit:
    one point per (segment, entity) with at least ``min_entity_leads`` leads, the
    :data:`MAX_ENTITY_POINTS` largest."""
    segs = [f"seg_{c}" for c in framing.segment_by]
    points: list[dict] = []
    if framing.unit == "lead":
        g = cells.assign(k=cells["n"] * cells["converted"]).groupby([*segs, "x"], as_index=False)[["n", "k"]].sum()
        for row in g.to_dict("records"):
            key = {c: row[f"seg_{c}"] for c in framing.segment_by}
            points.append({"x": int(row["x"]), "y": row["k"] / row["n"], "n": int(row["n"]), "segment": label_of(key)})
        x_label, y_label = "touches", "converted"
    else:
        col = entity_column(framing.unit)
        e = agg["ent"][col]
        if isinstance(e, pd.DataFrame):
            e = e[e["leads"] >= framing.min_entity_leads].sort_values(["leads", *segs, col], ascending=[False] + [True] * (len(segs) + 1), kind="mergesort").head(MAX_ENTITY_POINTS)
        else:  # the engine's account table (levier.analysis.accounts): ordering + limit there
            e = e.largest(framing.min_entity_leads, MAX_ENTITY_POINTS)
        for row in e.to_dict("records"):
            key = {c: row[f"seg_{c}"] for c in framing.segment_by}
            points.append({"x": row["touches"] / row["leads"], "y": row["conversions"] / row["leads"], "n": int(row["leads"]), "segment": label_of(key), "id": str(row[col])})
        x_label, y_label = "mean touches per lead", "conversion rate"
    c = overall.correlation
    return {
        "unit": framing.unit,
        "x_label": x_label,
        "y_label": y_label,
        "points": points,
        "x_mean": overall.quadrants.x_mean,
        "y_mean": overall.quadrants.y_mean,
        "trend": {"slope": c.slope, "intercept": c.intercept, "r2": c.r2},
    }
