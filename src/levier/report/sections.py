"""Build the audit note's :class:`Document` from the audit dict: framing, dashboard, journal…

The statistical sections (scatter, curves, segments, thresholds, diagnostic, outliers) live in
:mod:`levier.report.sections_stats`. Every builder reads the dict defensively: a missing key,
a ``None`` or an empty list prints "n/a" / "non disponible" instead of failing.
"""

from __future__ import annotations

from typing import Any

from levier.report import sections_stats as stats
from levier.report.document import Document, Pairs, Para, Section, Table, Tile, Tiles
from levier.report.fmt import Formatter
from levier.report.labels import enum_label

__all__ = ["build_document", "dashboard_tiles"]


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def build_document(data: dict[str, Any], lang: str = "fr") -> Document:
    """The whole audit note as a neutral document (texts translated, figures formatted)."""
    f = Formatter(lang)
    framing = _d(data.get("framing"))
    period = _d(framing.get("period")).get("label") or f.na
    sections = (
        framing_section(framing, f, data.get("warnings")),
        definitions_section(_l(data.get("definitions")), f),
        dashboard_section(_d(data.get("dashboard")), framing, f),
        stats.scatter_section(data, f),
        stats.response_section(data, f),
        stats.ttf_section(data, f),
        stats.segments_section(data, f),
        stats.thresholds_section(_l(data.get("thresholds")), f),
        stats.diagnostic_section(_l(data.get("diagnostic")), f),
        stats.outliers_section(_l(data.get("outliers")), f),
        cleaning_section(_d(data.get("cleaning")), f),
        comparison_section(data.get("comparison"), data, f),
    )
    subtitle = f.t("Workspace {workspace} · generated {when} · Levier {version}",
                   workspace=framing.get("workspace") or f.na,
                   when=f.date(framing.get("generated_at")),
                   version=framing.get("software_version") or f.na)
    return Document(lang=f.lang, title=f.t("Audit note — {period}", period=period),
                    subtitle=subtitle, sections=sections)


def _period(p: Any, f: Formatter) -> str:
    p = _d(p)
    if not p:
        return f.na
    span = f.t("{start} to {end}", start=f.date(p.get("start")), end=f.date(p.get("end")))
    return f"{p.get('label') or ''} ({span})".strip()


def framing_section(framing: dict[str, Any], f: Formatter, warnings: Any = None) -> Section:
    conv = _d(framing.get("conversion"))
    contact = _d(framing.get("contact"))
    raci = _d(framing.get("raci"))
    items = [
        (f.t("Period"), _period(framing.get("period"), f)),
        (f.t("Compared with"), _period(framing.get("compare_to"), f)),
        (f.t("Segments"), f.text(_l(framing.get("segment_by")))),
        (f.t("Unit of analysis"), enum_label(f, "unit", framing.get("unit"))),
        (f.t("Funnel phase"), f.text(framing.get("phase"))),
        (f.t("Conversion"), f.t("reaches stage “{stage}” within {days} days",
                                stage=conv.get("stage") or f.na, days=f.text(conv.get("window_days")))),
        (f.t("Contact"), f.t("{direction} touch with outcome {outcomes}",
                             direction=enum_label(f, "direction", contact.get("direction")),
                             outcomes=f.text(_l(contact.get("outcomes") or contact.get("effective_outcomes"))))),
        (f.t("TTF target (SLA)"), f.hours(framing.get("ttf_sla_hours"))),
        (f.t("KPIs"), f.text(_l(framing.get("kpis")))),
        (f.t("Responsible"), f.text(raci.get("responsible"))),
        (f.t("Accountable"), f.text(raci.get("accountable"))),
        (f.t("Consulted"), f.text(raci.get("consulted"))),
        (f.t("Informed"), f.text(raci.get("informed"))),
        (f.t("Data extraction"), f.date(framing.get("extraction_time"))),
        (f.t("Filters"), f.text(framing.get("filters"))),
        (f.t("Workspace"), f.text(framing.get("workspace"))),
        (f.t("Software version"), f.text(framing.get("software_version"))),
    ]
    intro = Para(f.t("Every figure in this note follows this framing."), "note")
    alerts = tuple(Para(f.t(str(w)), "warning") for w in _l(warnings) if w)
    return Section("framing", f.t("Framing note"), (intro, *alerts, Pairs(tuple(items))))


def definitions_section(defs: list[Any], f: Formatter) -> Section:
    rows = tuple((f.t(str(d.get("name") or d.get("key") or "")) or f.na, f.t(str(d.get("formula") or "")) or f.na,
                  f.text(d.get("source")))
                 for d in defs if isinstance(d, dict))
    table = Table((f.t("Metric"), f.t("Definition"), f.t("Source")), rows, empty=f.t("not available"))
    return Section("definitions", f.t("Definitions"), (table,))


def dashboard_tiles(dash: dict[str, Any], framing: dict[str, Any], f: Formatter) -> tuple[Tile, ...]:
    """The eight headline figures of the one-page dashboard."""
    iqr = dash.get("contacts_iqr")
    iqr_text = f.na
    if isinstance(iqr, list) and len(iqr) == 2:
        iqr_text = f"{f.count(iqr[0])}–{f.count(iqr[1])}"
    slope = dash.get("slope")
    slope_note = f.t("{points} of conversion per extra contact",
                     points=f.points(slope * 100 if isinstance(slope, int | float) else None, 2))
    return (
        Tile(f.t("Median TTF"), f.hours(dash.get("median_ttf_hours")),
             f.t("target {target}", target=f.hours(framing.get("ttf_sla_hours")))),
        Tile(f.t("Median contacts per lead (IQR)"), f"{f.count(dash.get('median_contacts'))} ({iqr_text})",
             f.t("interquartile range in brackets")),
        Tile(f.t("Conversion rate"), f.pct(dash.get("conversion_rate"))),
        Tile(f.t("Correlation r"), f.num(dash.get("r"), 2), f.t("Pearson, contacts vs conversion")),
        Tile(f.t("Slope"), f.num(slope, 4), slope_note),
        Tile(f.t("R²"), f.num(dash.get("r2"), 3)),
        Tile(f.t("Share in Q1"), f.pct(dash.get("pct_q1")), f.t("high contacts, high conversion")),
        Tile(f.t("Complaint rate"), f.pct(dash.get("complaint_rate"), 2), f.t("complaints per touch")),
    )


def accounts_table(accounts: list[Any], caption: str, f: Formatter) -> Table:
    rows = []
    cycles_key = next((k for a in accounts if isinstance(a, dict) for k in a if k.startswith("cycles_in_")),
                      "cycles_in_q3")
    for a in accounts:
        if not isinstance(a, dict):
            continue
        rows.append((f.text(a.get("account_id")), f.integer(a.get("leads")), f.num(a.get("mean_touches"), 1),
                     f.pct(a.get("conversion_rate")), f.text(a.get(cycles_key))))
    quadrant = cycles_key.rsplit("_", 1)[-1].upper()
    cols = (f.t("Account"), f.t("Leads"), f.t("Mean touches"), f.t("Conversion rate"),
            f.t("Cycles in {quadrant}", quadrant=quadrant))
    return Table(cols, tuple(rows), caption=caption, numeric=(False, True, True, True, True),
                 empty=f.t("not available"))


def dashboard_section(dash: dict[str, Any], framing: dict[str, Any], f: Formatter) -> Section:
    meta = _d(dash.get("meta"))
    meta_items = (
        (f.t("Data extraction"), f.date(meta.get("extraction_time") or framing.get("extraction_time"))),
        (f.t("Period"), f.text(meta.get("period"))),
        (f.t("Attribution window"), f.t("{days} days", days=f.text(meta.get("attribution_window_days")))),
        (f.t("Definitions"), "; ".join(map(str, _l(meta.get("definitions")))) or f.na),
    )
    blocks = (
        Tiles(dashboard_tiles(dash, framing, f)),
        accounts_table(_l(dash.get("coach_accounts")),
                       f.t("10 accounts to coach (recurring in Q3: few contacts, low conversion)"), f),
        accounts_table(_l(dash.get("imitate_accounts")),
                       f.t("10 accounts to imitate (Q1: many contacts, high conversion)"), f),
        Pairs(meta_items, caption=f.t("About these figures")),
    )
    return Section("dashboard", f.t("One-page dashboard"), blocks)


def cleaning_section(cleaning: dict[str, Any], f: Formatter) -> Section:
    if not cleaning:
        return Section("cleaning", f.t("Cleaning journal"),
                       (Para(f.t("No cleaning journal for this workspace: not available."), "note"),))
    rules = [r for r in _l(cleaning.get("rules")) if isinstance(r, dict)]
    rows = tuple((f.text(r.get("rule")), f.integer(r.get("rows")), enum_label(f, "category", r.get("category")),
                  enum_label(f, "action", r.get("action")), f.t(str(r.get("reason") or "")) or f.na)
                 for r in rules)
    total = sum(r.get("rows") or 0 for r in rules if isinstance(r.get("rows"), int | float))
    summary = Para(f.t("{runs} cleaning run(s); {rows} rows excluded or flagged. Raw data is never "
                       "modified: cleaning is a reproducible view.",
                       runs=f.text(cleaning.get("runs")), rows=f.integer(total)), "note")
    table = Table((f.t("Rule"), f.t("Rows"), f.t("Category"), f.t("Action"), f.t("Reason")), rows,
                  numeric=(False, True, False, False, False), empty=f.t("not available"))
    return Section("cleaning", f.t("Cleaning journal"), (summary, table))


def comparison_section(comparison: Any, data: dict[str, Any], f: Formatter) -> Section:
    title = f.t("Comparison with the previous cycle")
    if not isinstance(comparison, dict) or not comparison:
        return Section("comparison", title, (Para(f.t("No comparison period: not available."), "note"),))
    prev = _d(comparison.get("previous"))
    overall = _d(data.get("overall"))
    now_label = _d(_d(data.get("framing")).get("period")).get("label") or f.t("current")
    prev_q = _d(prev.get("quadrants"))
    prev_q = _d(prev_q.get("shares")) if "shares" in prev_q else prev_q
    now_q = _d(_d(overall.get("quadrants")).get("shares"))
    rows = [
        (f.t("Leads"), f.integer(overall.get("n")), f.integer(prev.get("n"))),
        (f.t("Conversion rate"), f.pct(overall.get("conversion_rate")), f.pct(prev.get("conversion_rate"))),
        (f.t("Correlation r"), f.num(_d(overall.get("correlation")).get("r"), 2), f.num(prev.get("r"), 2)),
    ]
    rows += [(f"Q{i}", f.pct(now_q.get(f"q{i}")), f.pct(prev_q.get(f"q{i}"))) for i in range(1, 5)]
    table = Table((f.t("Figure"), str(now_label), str(prev.get("label") or f.t("previous"))), tuple(rows),
                  numeric=(False, True, True))
    tests = Pairs((
        (f.t("ΔCR"), f.points(comparison.get("delta_cr_points"))),
        (f.t("Two-proportion test on CR (p)"), f.pvalue(comparison.get("cr_test_p"))),
        (f.t("Two-proportion test on complaints (p)"), f.pvalue(comparison.get("complaint_test_p"))),
    ))
    return Section("comparison", title, (table, tests))
