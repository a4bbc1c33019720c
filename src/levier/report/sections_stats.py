"""Statistical sections of the audit note: scatter, curves, segments, thresholds, diagnostic, outliers."""

from __future__ import annotations

from typing import Any

from levier.report import charts
from levier.report.document import Figure, Pairs, Para, Section, Table
from levier.report.fmt import Formatter
from levier.report.labels import enum_label

__all__ = [
    "scatter_section",
    "response_section",
    "ttf_section",
    "segments_section",
    "thresholds_section",
    "diagnostic_section",
    "outliers_section",
]


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _segments(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in data.get("segments") or [] if isinstance(s, dict)]


def _figure(key: str, spec: dict[str, Any] | None, title: str, alt: str, f: Formatter) -> Figure | Para:
    if spec is None:
        return Para(f.t("Chart not available: no data."), "note")
    return Figure(key, title, spec, alt)


def _quadrant_table(quadrants: dict[str, Any], f: Formatter) -> Table:
    counts, shares = _d(quadrants.get("counts")), _d(quadrants.get("shares"))
    names = {
        "q1": f.t("Q1 — many contacts, high conversion (target)"),
        "q2": f.t("Q2 — few contacts, high conversion"),
        "q3": f.t("Q3 — few contacts, low conversion (priority)"),
        "q4": f.t("Q4 — many contacts, low conversion"),
    }
    rows = tuple((names[q], f.integer(counts.get(q)), f.pct(shares.get(q))) for q in names)
    return Table((f.t("Quadrant"), f.t("Count"), f.t("Share")), rows,
                 caption=f.t("Quadrants around the means"), numeric=(False, True, True))


def scatter_section(data: dict[str, Any], f: Formatter) -> Section:
    scatter = _d(data.get("scatter"))
    overall = _d(data.get("overall"))
    corr = _d(overall.get("correlation"))
    trend = _d(scatter.get("trend"))
    spec = charts.scatter_spec(scatter, f)
    title = f.t("Contacts per lead vs conversion")
    blocks: list[Any] = [_figure("scatter", spec, title, f.t(
        "Scatter plot of conversion rate against contacts per lead, one point per group, with the "
        "trend line and the two mean lines that split the plane into quadrants."), f)]
    summary = (
        (f.t("Correlation r"), f"{f.num(corr.get('r'), 2)} {f.t('95 % CI')} {f.interval(corr.get('r_ci'))}"),
        (f.t("Spearman ρ"), f.num(corr.get("spearman"), 2)),
        (f.t("Slope m"), f"{f.num(trend.get('slope', corr.get('slope')), 4)} {f.t('95 % CI')} "
                         f"{f.interval(corr.get('slope_ci'), 4)}"),
        (f.t("Intercept b"), f.num(trend.get("intercept", corr.get("intercept")), 3)),
        (f.t("R²"), f.num(trend.get("r2", corr.get("r2")), 3)),
        (f.t("p-value"), f.pvalue(corr.get("p_value"))),
        (f.t("Observations"), f.integer(corr.get("n"))),
        (f.t("Status"), enum_label(f, "code", corr.get("code"))),
        (f.t("Mean contacts (vertical line)"), f.num(scatter.get("x_mean"), 2)),
        (f.t("Mean conversion (horizontal line)"), f.pct(scatter.get("y_mean"))),
    )
    blocks += [Pairs(summary, caption=f.t("Summary (all segments)")), _quadrant_table(_d(overall.get("quadrants")), f)]
    sens = _d(overall.get("sensitivity"))
    if sens:
        blocks.append(Para(f.t("Without the top {share} of cadences: r = {r}, slope = {slope}, R² = {r2}.",
                               share=f.pct(sens.get("trimmed_share"), 0), r=f.num(sens.get("r"), 2),
                               slope=f.num(sens.get("slope"), 4), r2=f.num(sens.get("r2"), 3)),
                          "warning" if sens.get("flag") else "note"))
    blocks += _composition_blocks(data, f)
    return Section("scatter", title, tuple(blocks))


def _composition_blocks(data: dict[str, Any], f: Formatter) -> list[Any]:
    comp = _d(data.get("composition"))
    out: list[Any] = []
    if comp.get("warning"):
        out.append(Para(f.t("Composition warning (Simpson's paradox): {message}",
                            message=f.t(str(comp.get("message") or "")) or f.na), "warning"))
    clusters = [c for c in data.get("clusters") or [] if isinstance(c, dict)]
    if clusters:
        rows = tuple((enum_label(f, "kind", c.get("kind")), f.text(c.get("label")), f.integer(c.get("n")),
                      f.pct(c.get("conversion_rate")), f.num(c.get("mean_touches"), 1)) for c in clusters)
        out.append(Table((f.t("Kind"), f.t("Cluster"), f.t("Leads"), f.t("Conversion rate"),
                          f.t("Mean touches")), rows, caption=f.t("Clusters"),
                         numeric=(False, False, True, True, True)))
    return out


def _curve_table(segments: list[dict[str, Any]], key: str, unit: str, f: Formatter) -> Table:
    rows = []
    for s in segments:
        curve = _d(s.get(key))
        knee = curve.get("knee")
        rows.append((f.text(s.get("label")), enum_label(f, "shape", curve.get("shape")),
                     f.na if knee is None else f"{f.count(knee)}{unit}",
                     f.na if curve.get("optimum") is None else f"{f.count(curve.get('optimum'))}{unit}",
                     f.text(curve.get("method"))))
    return Table((f.t("Segment"), f.t("Shape"), f.t("Knee"), f.t("Optimum"), f.t("Method")), tuple(rows),
                 numeric=(False, False, True, True, False), empty=f.t("not available"))


def response_section(data: dict[str, Any], f: Formatter) -> Section:
    segs = _segments(data)
    title = f.t("Response curves")
    fig = _figure("response", charts.response_curve_spec(segs, f), title, f.t(
        "Conversion rate by number of touches for each segment, with 95 % Wilson intervals."), f)
    return Section("response", title, (fig, _curve_table(segs, "response_curve", "", f)))


def ttf_section(data: dict[str, Any], f: Formatter) -> Section:
    segs = _segments(data)
    title = f.t("Time to first contact")
    fig = _figure("ttf", charts.ttf_curve_spec(segs, f), title, f.t(
        "Conversion rate by time to first contact for each segment, with 95 % Wilson intervals."), f)
    rows = tuple((f.text(s.get("label")), f.hours(_d(s.get("ttf")).get("median_hours")),
                  f.hours(_d(s.get("ttf")).get("p90_hours")), f.pct(_d(s.get("ttf")).get("share_within_sla")),
                  f.integer(_d(s.get("ttf")).get("n_contacted"))) for s in segs)
    table = Table((f.t("Segment"), f.t("Median TTF"), f.t("TTF p90"), f.t("Within SLA"), f.t("Contacted")),
                  rows, numeric=(False, True, True, True, True), empty=f.t("not available"))
    return Section("ttf", title, (fig, table, _curve_table(segs, "ttf_curve", " h", f)))


def _segment_row(s: dict[str, Any], f: Formatter) -> tuple[str, ...]:
    corr, contacts, light = _d(s.get("correlation")), _d(s.get("contacts")), _d(s.get("traffic_light"))
    colour = light.get("colour")
    reasons = "; ".join(f.t(str(r)) for r in light.get("reasons") or []) or f.na
    iqr = f"{f.count(contacts.get('median'))} ({f.count(contacts.get('q1'))}–{f.count(contacts.get('q3'))})"
    return (f.text(s.get("label")), f.integer(s.get("n")), f.pct(s.get("conversion_rate")), iqr,
            f.hours(_d(s.get("ttf")).get("median_hours")), f.num(corr.get("r"), 2), f.num(corr.get("slope"), 4),
            f.num(corr.get("r2"), 3), f.pct(_d(_d(s.get("quadrants")).get("shares")).get("q1")),
            f.pct(_d(s.get("complaints")).get("rate"), 2), f.points(_d(s.get("comparison")).get("delta_cr_points")),
            enum_label(f, "light", colour),
            reasons, f.t(str(light.get("action") or "")) or f.na)


def segments_section(data: dict[str, Any], f: Formatter) -> Section:
    segs = _segments(data)
    title = f.t("Segments and traffic lights")
    cols = (f.t("Segment"), f.t("Leads"), f.t("CR"), f.t("Contacts (IQR)"), f.t("Median TTF"), "r",
            f.t("Slope"), "R²", "%Q1", f.t("Complaints"), f.t("ΔCR"), f.t("Light"), f.t("Reasons"), f.t("Action"))
    rows = tuple(_segment_row(s, f) for s in segs)
    lights = tuple(_d(s.get("traffic_light")).get("colour") for s in segs)
    numeric = (False,) + (True,) * 10 + (False, False, False)
    table = Table(cols, rows, numeric=numeric, light_col=11, lights=lights, empty=f.t("not available"))
    rule = Para(f.t("Green: r ≥ 0.25 and ΔCR ≥ +2 pts with stable complaints → deploy widely. "
                    "Amber: r between 0.10 and 0.25 or heterogeneous gains → re-segment, adjust the cadence. "
                    "Red: r ≈ 0 or rising complaints → stop, revise content / TTF, test again. "
                    "Grey: too few leads or r undefined → collect more data before deciding."), "note")
    fig = _figure("segments", charts.segments_spec(segs, f), title,
                  f.t("Bar chart of the conversion rate per segment, coloured by traffic light."), f)
    return Section("segments", title, (rule, table, fig))


def thresholds_section(thresholds: list[Any], f: Formatter) -> Section:
    rows = []
    for t in thresholds:
        if not isinstance(t, dict):
            continue
        caps = _d(t.get("channel_caps"))
        rows.append((f.text(t.get("segment")),
                     f.t("≥ {n} in {days} days", n=f.text(t.get("min_touches")), days=f.text(t.get("window_days"))),
                     f.hours(t.get("ttf_target_hours")), f.text(t.get("max_per_day")),
                     ", ".join(f"{k} ≤ {v}" for k, v in caps.items()) or f.na,
                     ", ".join(enum_label(f, "exception", e) for e in t.get("exceptions") or []) or f.na,
                     f.text(t.get("evidence"))))
    cols = (f.t("Segment"), f.t("Minimum touches"), f.t("TTF target"), f.t("Max per day"),
            f.t("Caps per channel"), f.t("Exceptions"), f.t("Evidence"))
    table = Table(cols, tuple(rows), numeric=(False, False, True, True, False, False, False),
                  empty=f.t("not available"))
    note = Para(f.t("Exceptions always apply: opt-out stops all contact at once; VIP and litigation go "
                    "to a manager with one validated channel."), "note")
    return Section("thresholds", f.t("Proposed thresholds and exceptions"), (table, note))


def diagnostic_section(items: list[Any], f: Formatter) -> Section:
    rows = tuple((f.t(str(d.get("question") or d.get("key") or "")) or f.na,
                  enum_label(f, "answer", d.get("answer")), f.t(str(d.get("evidence") or "")) or f.na)
                 for d in items if isinstance(d, dict))
    table = Table((f.t("Question"), f.t("Answer"), f.t("Evidence")), rows, empty=f.t("not available"))
    return Section("diagnostic", f.t("Express diagnostic"), (table,))


def outliers_section(items: list[Any], f: Formatter) -> Section:
    rows = tuple((f.text(o.get("rank")), enum_label(f, "kind", o.get("kind")), f.text(o.get("id")),
                  f.t(str(o.get("facts") or "")) or f.na, enum_label(f, "category", o.get("category")),
                  f.t(str(o.get("action") or "")) or f.na)
                 for o in items[:5] if isinstance(o, dict))
    cols = (f.t("Rank"), f.t("Kind"), f.t("Identifier"), f.t("Facts"), f.t("Class"), f.t("Action"))
    table = Table(cols, rows, numeric=(True, False, False, False, False, False), empty=f.t("not available"))
    return Section("outliers", f.t("Top 5 outliers"), (table,))
