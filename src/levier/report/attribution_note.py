"""Self-contained attribution, funnel and KPI notes: HTML, PDF, XLSX, Markdown, JSON; fr / en.

The notes reuse the audit note's machinery: a neutral :class:`~levier.report.document.Document`
laid out by :func:`levier.report.html.render_html`, :func:`levier.report.pdf.write_pdf` and
:func:`levier.report.markdown.write_markdown`; charts are the Vega-Lite specs of
:mod:`levier.report.attribution` rendered offline by vl-convert; the workbook holds the numeric
tables with native Excel bar charts. Inputs are the JSON payloads of ``levier attribute``,
``levier funnel`` and ``levier kpis`` (``--json``), so the figures of every format are the
analysis result's. Definitions are cited from the KPI catalogue (``docs/kpis.md``)::

    render_note("attribution", payload, formats="html,xlsx", lang="fr", out_dir="out")
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.report import _formats, _lang
from levier.report.attribution import _overall_steps, _rows, attribution_spec, funnel_spec
from levier.report.document import Document, Figure, Pairs, Para, Section, Table
from levier.report.fmt import Formatter

__all__ = ["KINDS", "NOTE_KPIS", "build_note", "render_note", "write_note_xlsx"]

KINDS = ("attribution", "funnel", "kpis")
#: KPI catalogue keys whose definitions each note cites.
NOTE_KPIS = {
    "attribution": ("conversion", "spend", "cpl", "cplq", "cac", "roas", "romi"),
    "funnel": ("funnel_step_rate", "median_time_between_steps", "mql_to_sql_rate", "form_completion_rate",
               "bounce_rate", "sales_cycle_days", "win_rate", "average_deal", "pipeline_velocity"),
    "kpis": (),
}
MODEL_DEFINITIONS = {
    "first": "First touch: the whole conversion to the first channel of the journey.",
    "last": "Last touch: the whole conversion to the last channel before it.",
    "last_non_direct": "Last non-direct touch: the last channel that is not direct (direct if there is none).",
    "linear": "Linear: equal shares to every touch of the journey.",
    "time_decay": "Time decay: each touch weighs 2^(−age / half-life) before the conversion, normalised per journey.",
    "position": "Position-based: 40 % to the first touch, 40 % to the last, 20 % spread over the middle.",
    "markov": "Markov chain: credit in proportion to each channel's removal effect, solved exactly from the absorbing chain.",
    "shapley": "Shapley (simplified): each journey's conversions shared equally among its distinct channels.",
}
_MAX_TRANSITIONS = 60


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def definitions(keys: Iterable[str], f: Formatter) -> list[dict[str, Any]]:
    """Name, formula and source of each KPI key, from the shared catalogue (unknown keys skipped)."""
    from levier.analysis.kpis import KPIS

    return [KPIS[k].to_dict(f.lang) for k in keys if k in KPIS]


def _definitions_section(keys: Iterable[str], models: Iterable[str], f: Formatter) -> Section:
    rows = [(d["name"], d["formula"], d["source"]) for d in definitions(keys, f)]
    rows += [(m, f.t(MODEL_DEFINITIONS[m]), "docs/attribution.md") for m in models if m in MODEL_DEFINITIONS]
    table = Table((f.t("Metric"), f.t("Definition"), f.t("Source")), tuple(rows), empty=f.t("not available"))
    return Section("definitions", f.t("Definitions"), (table,))


# -- attribution -------------------------------------------------------------------------
def _framing(payload: dict[str, Any], f: Formatter) -> Section:
    src = _d(payload.get("source"))
    opts = _d(src.get("options"))
    items = [
        (f.t("Period"), f.text(payload.get("period"))),
        (f.t("Source"), f.text(src.get("file") or (f.t("workspace") if src.get("kind") == "workspace" else src.get("kind")))),
        (f.t("Journeys"), f.integer(src.get("journeys"))),
        (f.t("Conversions"), f.num(src.get("conversions"), 0)),
        (f.t("Conversion value"), f.num(src.get("value"), 0)),
        (f.t("Channels"), f.text(_l(src.get("channels")))),
        (f.t("Models"), f.text([m.get("label") for m in _l(payload.get("models"))])),
    ]
    if opts:
        items += [(f.t("Conversion stage"), f.text(opts.get("conversion_stage"))),
                  (f.t("Lookback window"), f.t("{days} days", days=f.num(opts.get("lookback_days"), 0)))]
    intro = Para(f.t("Every figure in this note comes from the same journeys; credits of each model sum to the conversions."), "note")
    return Section("framing", f.t("Framing note"), (intro, Pairs(tuple(items))))


def comparison_table(payload: dict[str, Any], f: Formatter, what: str = "conversions") -> Table:
    """Channel × model credits (conversions or value), side by side."""
    models = [m.get("label") for m in _l(payload.get("models"))]
    credit = {(r["model"], r["channel"]): r[what] for r in _rows(payload)}
    channels = _l(payload.get("channels")) or sorted({c for _m, c in credit})
    rows = tuple((ch, *[f.num(credit.get((m, ch), 0.0), 2 if what == "conversions" else 0) for m in models]) for ch in channels)
    totals = ("Σ", *[f.num(sum(credit.get((m, ch), 0.0) for ch in channels), 2 if what == "conversions" else 0) for m in models])
    caption = f.t("Attributed conversions") if what == "conversions" else f.t("Attributed value")
    return Table((f.t("Channel"), *models), (*rows, totals), caption=caption, numeric=(False, *[True] * len(models)))


def _comparison(payload: dict[str, Any], f: Formatter) -> Section:
    blocks: list[Any] = []
    spec = attribution_spec(payload, f.lang)
    if spec:
        blocks.append(Figure("attribution", f.t("Attribution by model"), spec,
                             f.t("Bars: conversions credited to each channel by each model.")))
    blocks += [comparison_table(payload, f), comparison_table(payload, f, "value")]
    return Section("comparison", f.t("Models side by side"), tuple(blocks))


def value_table(value: dict[str, Any], f: Formatter) -> Table:
    cols = ("Model", "Channel", "Spend", "Leads", "Qualified leads", "Customers", "Revenue")
    rows = tuple((r["model"], r["channel"], f.num(r.get("spend"), 0), f.num(r.get("leads"), 1), f.num(r.get("qualified"), 1),
                  f.num(r.get("customers"), 1), f.num(r.get("revenue"), 0), f.num(r.get("cpl")), f.num(r.get("cplq")),
                  f.num(r.get("cac")), f.num(r.get("roas")), f.pct(r.get("romi"))) for r in _l(value.get("rows")))
    return Table((*[f.t(c) for c in cols], "CPL", "CPLQ", "CAC", "ROAS", "ROMI"), rows,
                 numeric=(False, False, *[True] * 10), empty=f.t("not available"))


def _value(payload: dict[str, Any], f: Formatter) -> Section | None:
    value = _d(payload.get("value"))
    if not value:
        return None
    stages = _d(value.get("stages"))
    note = Para(f.t("Leads = stage {leads}; qualified = stage {qualified}; customers = stage {customers}. A ratio whose denominator is zero is n/a.",
                    leads=f.text(stages.get("leads")), qualified=f.text(stages.get("qualified")),
                    customers=f.text(stages.get("customers"))), "note")
    blocks: list[Any] = [note, value_table(value, f)]
    un = _d(value.get("unattributed_spend"))
    if un:
        blocks.append(Para(f.t("Spend on channels with no journey: {items}.",
                               items="; ".join(f"{k} {f.num(v, 0)}" for k, v in un.items())), "warning"))
    return Section("value", f.t("Channel value and ROI"), tuple(blocks))


def _markov(payload: dict[str, Any], f: Formatter) -> list[Section]:
    out = []
    for m in _l(payload.get("models")):
        d = _d(m.get("details"))
        if m.get("model") != "markov" or "removal_effects" not in d:
            continue
        credits = {c["channel"]: c for c in _l(m.get("channels"))}
        effects = _d(d.get("removal_effects"))
        value_effects = _d(d.get("value_removal_effects"))
        rows = tuple((ch, f.num(re_, 4), f.num(value_effects.get(ch), 4), f.num(_d(credits.get(ch)).get("conversions"), 2))
                     for ch, re_ in effects.items())
        blocks: list[Any] = [
            Para(f.t("Order {order}: {states} states; P(conversion) = {p}; expected value per journey = {ev}. Removal effect = 1 − P(conversion without the channel) / P(conversion), exact sparse solve.",
                     order=d.get("order"), states=f.integer(d.get("states")), p=f.pct(d.get("p_conversion"), 2),
                     ev=f.num(d.get("expected_value"), 2))),
            Table((f.t("Channel"), f.t("Removal effect"), f.t("Value removal effect"), f.t("Attributed conversions")), rows,
                  caption=f.t("Removal effects"), numeric=(False, True, True, True)),
        ]
        trans = sorted(_l(d.get("transitions")), key=lambda t: -float(t.get("count") or 0))
        if trans:
            shown = trans[:_MAX_TRANSITIONS]
            blocks.append(Table((f.t("From"), f.t("To"), f.t("Journeys"), f.t("Probability")),
                                tuple((t["from"], t["to"], f.num(t["count"], 0), f.pct(t["probability"], 1)) for t in shown),
                                caption=f.t("Transition matrix (most frequent transitions)"), numeric=(False, False, True, True)))
            if len(trans) > len(shown):
                blocks.append(Para(f.t("{shown} of {total} transitions shown; the workbook and the JSON file hold them all.",
                                       shown=len(shown), total=len(trans)), "note"))
        else:
            blocks.append(Para(f.t("The transition matrix is too large to print; it is in the JSON output of levier attribute."), "note"))
        out.append(Section(f"markov-{d.get('order')}", f.t("Markov chain, order {order}", order=d.get("order")), tuple(blocks)))
    return out


def _attribution_doc(payload: dict[str, Any], f: Formatter) -> Document:
    models = [m.get("model") for m in _l(payload.get("models"))]
    sections = [_framing(payload, f), _comparison(payload, f), _value(payload, f), *_markov(payload, f),
                _definitions_section(NOTE_KPIS["attribution"] if payload.get("value") else ("conversion",), models, f)]
    return Document(f.lang, f.t("Attribution note — {period}", period=payload.get("period") or f.t("all journeys")),
                    _subtitle(f), tuple(s for s in sections if s is not None))


# -- funnel ------------------------------------------------------------------------------
def funnel_table(steps: list[dict[str, Any]], f: Formatter, caption: str = "") -> Table:
    rows = tuple((s["stage"], f.integer(s.get("reached")), f.pct(s.get("step_rate")), f.pct(s.get("cumulative_rate")),
                  f.integer(s.get("drop_off")), f.hours(s.get("median_hours_from_previous"))) for s in steps)
    cols = ("Stage", "Leads", "Step conversion", "Cumulative", "Drop-off", "Median time from previous step")
    return Table(tuple(f.t(c) for c in cols), rows, caption=caption, numeric=(False, True, True, True, True, True),
                 empty=f.t("not available"))


def _funnel_doc(payload: dict[str, Any], f: Formatter) -> Document:
    fun = _d(payload.get("funnel"))
    blocks: list[Any] = []
    spec = funnel_spec(payload, f.lang)
    if spec:
        blocks.append(Figure("funnel", f.t("Funnel"), spec, f.t("Bars: leads reaching each stage, labelled with the cumulative conversion.")))
    blocks.append(funnel_table(_overall_steps(payload), f, f.t("All leads")))
    for seg in _l(fun.get("segments")):
        blocks.append(funnel_table(_l(_d(seg).get("steps")), f, f.text(_d(seg).get("label"))))
    web, cycle, vel = _d(payload.get("web")), _d(payload.get("sales_cycle")), _d(payload.get("pipeline_velocity"))
    web_pairs = Pairs(((f.t("Visitors"), f.integer(web.get("visitors"))), (f.t("Form starts"), f.integer(web.get("form_starters"))),
                       (f.t("Form submits"), f.integer(web.get("form_submitters"))), (f.t("Leads"), f.integer(web.get("leads"))),
                       (f.t("Form completion rate"), f.pct(web.get("form_completion_rate"))),
                       (f.t("Landing bounce rate"), f.pct(web.get("bounce_rate")))))
    sales = Pairs(((f.t("MQL → SQL"), f.pct(payload.get("mql_to_sql_rate"))),
                   (f.t("Sales cycle (median days)"), f.num(cycle.get("median_days"), 1)),
                   (f.t("Win rate"), f.pct(vel.get("win_rate"))), (f.t("Average won deal"), f.num(vel.get("average_won_amount"), 0)),
                   (f.t("Pipeline velocity (per day)"), f.num(vel.get("velocity_per_day"), 0))))
    framing = Pairs(((f.t("Period"), f.text(payload.get("period"))), (f.t("Segments"), f.text(_l(fun.get("segment_by"))))))
    sections = (Section("framing", f.t("Framing note"), (framing,)), Section("funnel", f.t("Stage funnel"), tuple(blocks)),
                Section("web", f.t("Web funnel"), (web_pairs,)), Section("sales", f.t("Sales KPIs"), (sales,)),
                _definitions_section(NOTE_KPIS["funnel"], (), f))
    return Document(f.lang, f.t("Funnel note — {period}", period=payload.get("period") or f.t("all leads")), _subtitle(f), sections)


# -- KPIs --------------------------------------------------------------------------------
def _kpis_doc(payload: dict[str, Any], f: Formatter) -> Document:
    from levier.analysis.kpis import KPIS

    values = [v for v in _l(payload.get("kpis")) if isinstance(v, dict)]
    rows = []
    for v in values:
        unit, x = v.get("unit"), v.get("value")
        shown = f.pct(x) if unit == "ratio" else f.num(x, 4 if unit == "coefficient" else 2)
        name = KPIS[v["key"]].name(f.lang) if v.get("key") in KPIS else f.text(v.get("key"))
        rows.append((name, shown, f.text(unit)))
    table = Table((f.t("KPI"), f.t("Value"), f.t("Unit")), tuple(rows), numeric=(False, True, False), empty=f.t("not available"))
    framing = Pairs(((f.t("Period"), f.text(payload.get("period"))), (f.t("Segment"), f.text(payload.get("segment") or f.t("all leads")))))
    sections = (Section("framing", f.t("Framing note"), (framing,)), Section("kpis", f.t("KPIs"), (table,)),
                _definitions_section([v.get("key") for v in values], (), f))
    return Document(f.lang, f.t("KPI note — {period}", period=payload.get("period") or f.na), _subtitle(f), sections)


def _subtitle(f: Formatter) -> str:
    from levier import __version__

    return f.t("Generated by Levier {version}.", version=__version__)


def build_note(kind: str, payload: Mapping[str, Any], lang: str = "fr") -> Document:
    """The note of ``kind`` (attribution, funnel, kpis) as a neutral document."""
    if kind not in KINDS:
        raise OptionError(_("Unknown note kind '{kind}'; use one of: {kinds}.", kind=kind, kinds=", ".join(KINDS)))
    f = Formatter(_lang(lang))
    builder = {"attribution": _attribution_doc, "funnel": _funnel_doc, "kpis": _kpis_doc}[kind]
    return builder(dict(payload), f)


def write_note_xlsx(kind: str, payload: Mapping[str, Any], path: Path, lang: str = "fr") -> Path:
    """The workbook: numeric tables (with native bar charts) plus every table of the note."""
    from levier.report.attribution_xlsx import write_workbook

    return write_workbook(kind, dict(payload), build_note(kind, payload, lang), path, lang)


def render_note(kind: str, payload: Mapping[str, Any], formats: str | Iterable[str] = ("html",), lang: str = "fr",
                out_dir: Path | str = Path("."), stem: str | None = None) -> list[Path]:
    """Write the note in each of ``formats`` into ``out_dir``; return the files written."""
    from levier.report.charts import to_png

    wanted, code = _formats(formats), _lang(lang)
    data = dict(payload)
    out = Path(out_dir)
    label = re.sub(r"[^\w.-]+", "_", str(data.get("period") or "all")).strip("_") or "all"
    base = stem or f"{kind}-{label}-{code}"
    doc = build_note(kind, data, code) if set(wanted) & {"html", "md", "pdf"} else None
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        pngs = {fig.key: to_png(fig.spec, code) for fig in doc.figures()} if doc and set(wanted) & {"md", "pdf"} else {}
        for fmt in wanted:
            path = out / f"{base}.{fmt}"
            if fmt == "json":
                path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
            elif fmt == "xlsx":
                write_note_xlsx(kind, data, path, code)
            elif fmt == "html":
                from levier.report.html import render_html

                path.write_text(render_html(doc), encoding="utf-8")  # type: ignore[arg-type]
            elif fmt == "md":
                from levier.report.markdown import write_markdown

                written += write_markdown(doc, path, pngs)[1:]  # type: ignore[arg-type]
            else:
                from levier.report.pdf import write_pdf

                write_pdf(doc, path, pngs)  # type: ignore[arg-type]
            written.append(path)
    except OSError as exc:
        raise OptionError(_("Cannot write the report into {path}: {error}. Choose a writable directory.", path=out, error=exc.strerror or exc)) from exc
    return written
