"""Vega-Lite chart specs for the audit note (built with Altair) and offline rendering.

One grammar for every output: the web UI embeds the spec, the static reports embed the SVG
(HTML) or PNG (Markdown, PDF) that vl-convert renders from the same spec. vl-convert bundles
Vega and its fonts, and rendering is called with ``allowed_base_urls=[]`` so a spec can never
fetch anything: all data is inline.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import vl_convert as vlc

from levier.report.fmt import Formatter, is_number

__all__ = [
    "LIGHT_COLOURS",
    "scatter_spec",
    "response_curve_spec",
    "ttf_curve_spec",
    "segments_spec",
    "to_svg",
    "to_png",
]

LIGHT_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "grey": "#8a8f98"}
_D3_LOCALES = {"fr": "fr-FR", "en": "en-GB"}
_WIDTH = 560


def _config(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec = chart.configure(font="Liberation Sans, Arial, sans-serif", background="white")
    return spec.configure_view(stroke="#ccc").to_dict(validate=True)


def scatter_spec(scatter: dict[str, Any], f: Formatter) -> dict[str, Any] | None:
    """Points sized by n, trend line, and the two mean lines splitting the plane in quadrants."""
    points = [p for p in scatter.get("points") or [] if is_number(p.get("x")) and is_number(p.get("y"))]
    if not points:
        return None
    x_title = f.t("Contacts per lead") if scatter.get("unit") == "lead" else f.t("Mean contacts per lead")
    y_title = f.t("Conversion rate")
    rows = [{"x": p["x"], "y": p["y"], "n": p.get("n") or 1, "segment": p.get("segment") or ""}
            for p in points]
    x_scale = alt.Scale(zero=True, nice=True)
    base = alt.Chart(alt.Data(values=rows)).mark_circle(opacity=0.6).encode(
        x=alt.X("x:Q", title=x_title, scale=x_scale),
        y=alt.Y("y:Q", title=y_title, axis=alt.Axis(format=".0%")),
        size=alt.Size("n:Q", title=f.t("Leads"), scale=alt.Scale(range=[15, 400])),
        color=alt.Color("segment:N", title=f.t("Segment"), legend=alt.Legend(columns=1)),
        tooltip=["segment:N", "x:Q", alt.Tooltip("y:Q", format=".1%"), "n:Q"],
    )
    layers: list[alt.Chart] = [base]
    layers += _mean_rules(scatter)
    trend = _trend_layer(scatter, rows, f)
    if trend is not None:
        layers.append(trend)
    chart = alt.layer(*layers).properties(
        width=_WIDTH, height=340, title=f.t("Contacts per lead vs conversion")
    )
    return _config(chart)


def _mean_rules(scatter: dict[str, Any]) -> list[alt.Chart]:
    out: list[alt.Chart] = []
    if is_number(scatter.get("x_mean")):
        out.append(alt.Chart(alt.Data(values=[{"v": scatter["x_mean"]}]))
                   .mark_rule(strokeDash=[4, 4], color="#555").encode(x="v:Q"))
    if is_number(scatter.get("y_mean")):
        out.append(alt.Chart(alt.Data(values=[{"v": scatter["y_mean"]}]))
                   .mark_rule(strokeDash=[4, 4], color="#555").encode(y="v:Q"))
    return out


def _trend_layer(scatter: dict[str, Any], rows: list[dict[str, Any]], f: Formatter) -> alt.Chart | None:
    trend = scatter.get("trend") or {}
    slope, intercept = trend.get("slope"), trend.get("intercept")
    if not (is_number(slope) and is_number(intercept)):
        return None
    lo = min(0.0, min(r["x"] for r in rows))
    hi = max(r["x"] for r in rows)
    label = f.t("Trend: y = {m}·x + {b} (R² = {r2})", m=f.num(slope, 4), b=f.num(intercept, 3),
                r2=f.num(trend.get("r2"), 3))
    line = [{"x": x, "y": intercept + slope * x, "trend": label} for x in (lo, hi)]
    return alt.Chart(alt.Data(values=line)).mark_line(color="#222", strokeWidth=2).encode(
        x="x:Q", y="y:Q", strokeDash=alt.StrokeDash("trend:N", title=None,
                                                    legend=alt.Legend(orient="bottom", labelLimit=0)))


def _curve_rows(segments: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    rows = []
    for seg in segments:
        bins = ((seg.get(key) or {}).get("bins")) or []
        for order, b in enumerate(bins):
            if not is_number(b.get("rate")):
                continue
            ci = b.get("ci") if isinstance(b.get("ci"), list | tuple) else [None, None]
            rows.append({"segment": seg.get("label") or "", "bin": str(b.get("label", order)),
                         "order": order, "rate": b["rate"], "n": b.get("n"),
                         "lo": ci[0] if ci and is_number(ci[0]) else None,
                         "hi": ci[1] if len(ci) > 1 and is_number(ci[1]) else None})
    return rows


def _curve_spec(rows: list[dict[str, Any]], x_title: str, title: str, f: Formatter) -> dict[str, Any] | None:
    if not rows:
        return None
    x = alt.X("bin:O", title=x_title, sort=alt.EncodingSortField("order"),
              axis=alt.Axis(labelAngle=0))
    y_title = f.t("Conversion rate")
    base = alt.Chart().encode(x=x)
    line = base.mark_line(point=True, color="#1f5fa8").encode(
        y=alt.Y("rate:Q", title=y_title, axis=alt.Axis(format=".0%")),
        tooltip=["bin:O", alt.Tooltip("rate:Q", format=".1%"), "n:Q"])
    bars = base.transform_filter("isValid(datum.lo) && isValid(datum.hi)").mark_errorbar(
        color="#7a9cc6").encode(y=alt.Y("lo:Q", title=y_title), y2="hi:Q")
    chart = alt.layer(bars, line, data=alt.Data(values=rows)).properties(width=170, height=120)
    order = list(dict.fromkeys(r["segment"] for r in rows))
    faceted = chart.facet(facet=alt.Facet("segment:N", title=None, sort=order), columns=3)
    return _config(faceted.properties(title=title).resolve_scale(y="shared"))


def response_curve_spec(segments: list[dict[str, Any]], f: Formatter) -> dict[str, Any] | None:
    """Conversion rate by number of touches per segment, with 95 % Wilson intervals."""
    return _curve_spec(_curve_rows(segments, "response_curve"), f.t("Touches"),
                       f.t("Response curves (95 % Wilson intervals)"), f)


def ttf_curve_spec(segments: list[dict[str, Any]], f: Formatter) -> dict[str, Any] | None:
    """Conversion rate by time to first contact per segment, with 95 % Wilson intervals."""
    return _curve_spec(_curve_rows(segments, "ttf_curve"), f.t("Time to first contact"),
                       f.t("Conversion by time to first contact"), f)


def segments_spec(segments: list[dict[str, Any]], f: Formatter) -> dict[str, Any] | None:
    """Conversion rate per segment, bars coloured by traffic light."""
    rows = [{"segment": s.get("label") or "", "rate": s["conversion_rate"],
             "light": f.t(str((s.get("traffic_light") or {}).get("colour") or "n/a")),
             "colour": (s.get("traffic_light") or {}).get("colour") or "none"}
            for s in segments if is_number(s.get("conversion_rate"))]
    if not rows:
        return None
    domain = [f.t(c) for c in LIGHT_COLOURS] + [f.t("n/a")]
    colours = list(LIGHT_COLOURS.values()) + ["#d0d4da"]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        y=alt.Y("segment:N", title=None, sort=None),
        x=alt.X("rate:Q", title=f.t("Conversion rate"), axis=alt.Axis(format=".0%")),
        color=alt.Color("light:N", title=f.t("Traffic light"),
                        scale=alt.Scale(domain=domain, range=colours)),
        tooltip=["segment:N", alt.Tooltip("rate:Q", format=".1%"), "light:N"],
    ).properties(width=_WIDTH - 120, height=alt.Step(18), title=f.t("Conversion rate by segment"))
    return _config(chart)


def to_svg(spec: dict[str, Any], lang: str = "fr") -> str:
    """Render a spec to SVG offline (no external URL is allowed)."""
    return vlc.vegalite_to_svg(spec, allowed_base_urls=[], format_locale=_D3_LOCALES.get(lang, "en-GB"))


def to_png(spec: dict[str, Any], lang: str = "fr", scale: float = 2.0) -> bytes:
    """Render a spec to PNG offline (no external URL is allowed)."""
    return vlc.vegalite_to_png(spec, scale=scale, allowed_base_urls=[],
                               format_locale=_D3_LOCALES.get(lang, "en-GB"))
