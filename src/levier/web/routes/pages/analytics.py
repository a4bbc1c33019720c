"""Analytics pages: experiment protocol and results, attribution and funnel, the KPI registry.

Every figure is computed in the engine under the facts lock and cached a few minutes; charts
are Vega-Lite specs rendered server-side to SVG (vl-convert), so the pages need no script.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markdown_it import MarkdownIt

from levier.errors import LevierError, OptionError
from levier.i18n import gettext as _
from levier.report.fmt import Formatter
from levier.web.deps import Ws
from levier.web.pages_core import (
    PageDb,
    PageEditor,
    PageRoute,
    PageViewer,
    cached,
    facts_key,
    facts_lock,
    form_data,
    redirect,
    render,
    request_lang,
)

__all__ = ["router", "DEFAULT_MODELS", "page_period", "experiment_readout", "kpi_series_spec", "stored_series", "stored_key"]

router = APIRouter(route_class=PageRoute)
DEFAULT_MODELS = ("first", "last", "linear", "markov")


def _md(text: str) -> str:
    """Markdown to HTML with raw HTML escaped (protocol texts are user input)."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _svg(spec: dict[str, Any] | None, lang: str) -> str | None:
    from levier.report.charts import to_svg

    return to_svg(spec, lang) if spec else None


# -- experiments: protocol and results -----------------------------------------------------
@router.get("/experiments/{key}/protocol")
def protocol_page(request: Request, key: str, _user: PageViewer, ws: Ws) -> Response:
    from levier.analysis.experiments import ProtocolStore, render_protocol

    proto = ProtocolStore(ws.path).load(key)
    return render(request, "experiment_protocol.html", key=key, proto=proto,
                  body=_md(render_protocol(proto, request_lang(request), "md")))


def experiment_readout(ws: Any, key: str, lang: str) -> tuple[Any, Any]:
    """(result, decision) of experiment ``key`` as ``levier experiment analyze`` computes them by default."""
    from levier.analysis.experiments.analysis import collect_statistics
    from levier.analysis.experiments.decision import decide
    from levier.analysis.experiments.protocol import Protocol, ProtocolStore
    from levier.analysis.experiments.readout import ReadoutOptions, read_out
    from levier.analysis.experiments.storage import daily_traffic

    store = ProtocolStore(ws.path)
    proto = store.load(key) if store.exists(key) else Protocol(key=key)
    a = ws.table("assignments")
    arms = [str(v) for v in a.filter(a.experiment_key == key).select("variant").distinct().execute()["variant"]]
    if not arms:
        raise OptionError(_("Experiment '{key}' has no assignments in the workspace.", key=key),
                          hint=_("Import the assignments table (experiment_key, variant) first."))
    order = [v for v in proto.variants if v in arms] + sorted(set(arms) - set(proto.variants))
    metrics = [m for _r, m in proto.metrics()]
    from levier.analysis.experiments.units import WEB_DIMENSIONS

    allowed = WEB_DIMENSIONS if proto.unit == "visitor" else tuple(ws.table("leads").columns)
    dimensions = [d for d in proto.dimensions if d in allowed]  # as the CLI: breakdowns this unit cannot use are skipped
    data = collect_statistics(ws.tables, key, metrics, order, dimensions=dimensions, roles={m.name: r for r, m in proto.metrics()},
                              unit=proto.unit)
    opts = ReadoutOptions(target=proto.ship_target, daily_units=daily_traffic(ws, unit=proto.unit), power=proto.power,
                          weights=tuple(proto.weights))
    result = read_out(data, opts)
    return result, decide(result, proto, target=opts.target, lang=lang)


@router.get("/experiments/{key}/results")
def results_page(request: Request, key: str, _user: PageViewer, ws: Ws) -> Response:
    from levier.report.experiments import effect_chart_spec, render_markdown

    lang = request_lang(request)

    def compute() -> tuple[Any, Any, str, str | None]:
        result, decision = experiment_readout(ws, key, lang)
        return result, decision, _md(render_markdown(result, None, lang)), _svg(effect_chart_spec(result, lang), lang)

    result, decision, body, chart = cached(("experiment-results", *facts_key(ws), key, lang), compute, ttl=120)
    return render(request, "experiment_results.html", key=key, result=result, decision=decision, body=body, chart=chart)


# -- attribution and funnel ---------------------------------------------------------------
def page_period(ws: Any, period: str | None) -> Any:
    """The period asked for, else the last full month of data."""
    from levier.analysis.framing import default_period, parse_period

    if period:
        return parse_period(period, "period")

    def latest() -> datetime | None:
        value = ws.table("leads").created_at.max().execute()
        return None if value is None or value != value else value.to_pydatetime()

    return default_period(cached(("latest-lead", *facts_key(ws)), latest))


def _models(model: str | None) -> tuple[str, ...]:
    from levier.analysis.attribution.run import check_models

    return check_models([m for m in (model or "").split(",") if m.strip()] or DEFAULT_MODELS)


@router.get("/attribution")
def attribution_page(request: Request, _user: PageViewer, ws: Ws, period: str | None = None, model: str | None = None) -> Response:
    from levier.analysis.attribution import JourneyOptions, attribute, channel_value
    from levier.analysis.attribution.result import MODELS
    from levier.report.attribution import attribution_spec
    from levier.report.attribution_note import comparison_table, value_table

    lang = request_lang(request)
    f = Formatter(lang)
    p = page_period(ws, period)
    models = _models(model)

    def compute() -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
        opts = JourneyOptions(start=p.start_dt, end=p.end_dt)
        try:
            cmp = attribute(ws, models, options=opts).to_dict()
        except OptionError as exc:  # no journey in the period: say so on the page
            return None, None, exc.message
        value = channel_value(ws, [m for m in models if m != "time_decay"] or ["last"], options=opts).to_dict()
        return cmp, value, None

    cmp, value, empty = cached(("attribution", *facts_key(ws), p.label, models), compute)
    tables = [comparison_table(cmp, f), comparison_table(cmp, f, "value"), value_table(value, f)] if cmp and value else []
    chart = cached(("attribution-svg", *facts_key(ws), p.label, models, lang), lambda: _svg(attribution_spec(cmp, lang), lang)) if cmp else None
    return render(request, "attribution.html", period=p, models=models, all_models=MODELS, tables=tables, chart=chart, empty=empty,
                  journeys=(cmp or {}).get("source", {}).get("journeys", 0))


@router.get("/funnel")
def funnel_page(request: Request, _user: PageViewer, ws: Ws, period: str | None = None) -> Response:
    from levier.analysis.funnel import funnel
    from levier.report.attribution import funnel_spec
    from levier.report.attribution_note import funnel_table

    lang = request_lang(request)
    p = page_period(ws, period)
    data = cached(("funnel-page", *facts_key(ws), p.label), lambda: funnel(ws, start=p.start_dt, end=p.end_dt).to_dict())
    steps = list((data.get("overall") or {}).get("steps") or [])
    chart = cached(("funnel-svg", *facts_key(ws), p.label, lang), lambda: _svg(funnel_spec({"funnel": data}, lang), lang))
    return render(request, "funnel.html", period=p, table=funnel_table(steps, Formatter(lang)), chart=chart)


# -- KPI registry ----------------------------------------------------------------------------
def _target_status(entry: Any, today: datetime) -> str:
    if not entry.targets:
        return "no target"
    return "overdue" if max(t.deadline for t in entry.targets) < today.date() else "open"


@router.get("/kpis")
def kpi_list(request: Request, _user: PageViewer, s: PageDb) -> Response:
    from levier.kpi.registry import list_kpis

    now = datetime.now()
    rows = [{"e": e, "target": e.targets[-1] if e.targets else None, "status": _target_status(e, now)}
            for e in list_kpis(s, request_lang(request))]
    return render(request, "kpis.html", rows=rows)


def kpi_series_spec(points: list[dict[str, Any]], title: str, lang: str) -> dict[str, Any] | None:
    """A small line chart of a KPI per period (None without any value)."""
    import altair as alt

    rows = [{"period": p["period_start"][:10], "value": p["value"]} for p in points if p["value"] is not None and not p["segment"]]
    if not rows:
        return None
    chart = alt.Chart(alt.Data(values=rows)).mark_line(point=True, color="#1565c0").encode(
        x=alt.X("period:T", title=_("Period", lang=lang)), y=alt.Y("value:Q", title=title),
        tooltip=["period:T", alt.Tooltip("value:Q", format=",.3~g")],
    ).properties(width=520, height=180, title=title)
    return chart.configure(font="Liberation Sans, Arial, sans-serif", background="white").to_dict(validate=True)


def stored_series(ws: Any, s: Any, entry: Any, grain: str, key: tuple[Any, ...] | None = None) -> dict[str, Any]:
    """The stored series of ``entry`` at ``grain`` as a dict, cached (decision 0190).

    Reading a stored series costs three facts queries (first and last data time, import
    batches), which grow with the data; the answer only changes with the facts (their version
    is in the key), with a refresh of the series (the latest ``updated_at`` and the count of its
    stored states, read from the loop store every worker shares, are in the key), with the
    KPI's formula, or with the day. ``key``: :func:`stored_key` when the caller already read it.
    """
    from levier.kpi.timeseries import stored

    return cached(key or stored_key(ws, s, entry, grain), lambda: stored(ws, s, entry.key, grain).to_dict())  # type: ignore[no-any-return]


def stored_key(ws: Any, s: Any, entry: Any, grain: str) -> tuple[Any, ...]:
    """The cache key of a stored series: facts version, the series' latest refresh, formula, day (one loop query)."""
    from levier.kpi.models import KpiSeriesState

    version = s.execute(sa.select(sa.func.max(KpiSeriesState.updated_at), sa.func.count())
                        .where(KpiSeriesState.series_key.startswith(f"{entry.key}|{grain}|", autoescape=True))).one()
    return ("kpi-stored", *facts_key(ws), entry.key, grain, entry.formula, tuple(version), date.today())


def _series_chart(skey: tuple[Any, ...], entry: Any, points: list[dict[str, Any]], lang: str) -> str | None:
    """The series chart as SVG (rendering it costs ~0.1 s of CPU), cached under the stored series' key."""
    return cached(("kpi-svg", *skey, entry.name, lang), lambda: _svg(kpi_series_spec(points, entry.name, lang), lang), facts=False)  # type: ignore[no-any-return]


@router.get("/kpis/{key}")
def kpi_page(request: Request, key: str, user: PageViewer, s: PageDb, ws: Ws, grain: str = "week") -> Response:
    from levier.kpi.registry import get_kpi, kr_progress
    from levier.loop.services import users

    lang = request_lang(request)
    entry = get_kpi(s, key, lang)
    grain = grain if grain in ("day", "week", "month", "quarter") else "week"
    points: list[dict[str, Any]] = []
    skey: tuple[Any, ...] = ()
    problem = None
    fresh: dict[str, Any] = {"refreshed_at": None, "stale": False}
    if entry.computable:  # a GET reads the stored series; refreshing it is a POST (decision 0151)
        try:
            skey = stored_key(ws, s, entry, grain)
            data = stored_series(ws, s, entry, grain, skey)
            points = [p for p in data["points"] if not p["segment"]]
            fresh = {"refreshed_at": data.get("refreshed_at"), "stale": bool(data.get("stale"))}
        except LevierError as exc:
            problem = exc.message
    values = [p["value"] for p in points if p["value"] is not None]
    current = values[-1] if values else None
    chart = _series_chart(skey, entry, points, lang) if points else None
    return render(request, "kpi.html", e=entry, points=points, chart=chart,
                  current=current, progress=[(t, kr_progress(current, t)) for t in entry.targets],
                  can_edit=users.role_allows(user.role, "editor"), problem=problem, grain=grain, fresh=fresh)


@router.post("/kpis/{key}/refresh")
async def kpi_refresh(request: Request, key: str, _user: PageEditor, s: PageDb, ws: Ws) -> Response:
    """Recompute the new or changed periods of the KPI's series at the page's grain (editors)."""
    from levier.kpi.timeseries import series

    form = await form_data(request)
    grain = form.get("grain", "week")
    grain = grain if grain in ("day", "week", "month", "quarter") else "week"
    with facts_lock():
        result = series(ws, s, key, grain)
    return redirect(f"/kpis/{key}?grain={grain}", _("Series refreshed: {n} periods recomputed.", n=result.recomputed))


def _number(form: dict[str, str], name: str, required: bool) -> float | None:
    raw = form.get(name, "").replace(",", ".").replace(" ", "")
    if not raw:
        if required:
            raise OptionError(_("{field}: a value is required.", field=name))
        return None
    try:
        return float(raw)
    except ValueError:
        raise OptionError(_("{field}: '{value}' is not a number.", field=name, value=form.get(name))) from None


@router.post("/kpis/{key}/target")
async def kpi_set_target(request: Request, key: str, _user: PageEditor, s: PageDb) -> Response:
    from levier.kpi.registry import set_target

    form = await form_data(request)
    value = _number(form, "value", True)
    if value is None or not form.get("deadline"):
        raise OptionError(_("{field}: a value is required.", field="deadline"))
    target = set_target(s, key, value, form["deadline"], baseline=_number(form, "baseline", False),
                        baseline_date=form.get("baseline_date") or None, note=form.get("note", ""))
    return redirect(f"/kpis/{key}", _("Target set: {value} by {deadline}.", value=f"{target.value:g}", deadline=target.deadline.isoformat()))


# -- alerts ------------------------------------------------------------------------------------
@router.get("/alerts")
def alerts_page(request: Request, user: PageViewer, s: PageDb, status: str = "open") -> Response:
    """KPI, threshold and inaction alerts stored by ``levier kpi alerts`` (grouped; newest first)."""
    from levier.kpi.alerts import list_alerts
    from levier.kpi.models import ALERT_STATUSES
    from levier.loop.models import User
    from levier.loop.services import users

    status = status if status in (*ALERT_STATUSES, "all") else "open"
    rows = list_alerts(s, status=None if status == "all" else status)
    owners = {u.id: u.name or u.username for u in s.scalars(sa.select(User).where(User.id.in_({r.owner_id for r in rows if r.owner_id})))}
    return render(request, "alerts.html", rows=rows, owners=owners, chosen=status, statuses=(*ALERT_STATUSES, "all"),
                  can_edit=users.role_allows(user.role, "editor"))


@router.post("/alerts/{alert_id}/status")
async def alert_set_status(request: Request, alert_id: int, _user: PageEditor, s: PageDb) -> Response:
    from levier.kpi.alerts import set_status

    form = await form_data(request)
    row = set_status(s, alert_id, form.get("status", ""))
    return redirect("/alerts", _("Alert {id} is now {status}.", id=row.id, status=_(row.status)))
