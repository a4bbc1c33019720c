"""Vega-Lite specs validate against the schema and render to SVG/PNG offline."""

from __future__ import annotations

from typing import Any

import altair as alt
import jsonschema
import pytest

from levier.report import charts
from levier.report.fmt import Formatter

SCHEMA = alt.vegalite.v6.schema.load_schema()
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def _specs(data: dict[str, Any], lang: str) -> dict[str, dict[str, Any] | None]:
    f = Formatter(lang)
    return {"scatter": charts.scatter_spec(data["scatter"], f),
            "response": charts.response_curve_spec(data["segments"], f),
            "ttf": charts.ttf_curve_spec(data["segments"], f),
            "segments": charts.segments_spec(data["segments"], f)}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_specs_validate_against_the_vega_lite_schema(audit_sample: dict[str, Any], lang: str) -> None:
    for name, spec in _specs(audit_sample, lang).items():
        assert spec is not None, name
        VALIDATOR.validate(spec)


def test_scatter_layers_points_trend_and_mean_lines(audit_sample: dict[str, Any]) -> None:
    spec = charts.scatter_spec(audit_sample["scatter"], Formatter("en"))
    layers = spec["layer"]
    marks = [layer["mark"]["type"] for layer in layers]
    assert marks == ["circle", "rule", "rule", "line"]
    assert layers[0]["encoding"]["size"]["field"] == "n"
    assert len(layers[0]["data"]["values"]) == len(audit_sample["scatter"]["points"])
    assert layers[1]["data"]["values"] == [{"v": 5.6}] and layers[1]["encoding"]["x"]["field"] == "v"
    assert layers[2]["data"]["values"] == [{"v": 0.18}] and layers[2]["encoding"]["y"]["field"] == "v"
    trend = layers[3]["data"]["values"]
    assert [p["x"] for p in trend] == [0.0, 12]
    assert [p["y"] for p in trend] == pytest.approx([0.061, 0.061 + 0.0213 * 12])
    assert trend[0]["trend"] == "Trend: y = 0.0213·x + 0.061 (R² = 0.096)"


def test_response_curve_has_wilson_error_bars_per_segment(audit_sample: dict[str, Any]) -> None:
    spec = charts.response_curve_spec(audit_sample["segments"], Formatter("fr"))
    inner = spec["spec"]["layer"]
    assert inner[0]["mark"]["type"] == "errorbar" and inner[0]["encoding"]["y2"]["field"] == "hi"
    assert spec["facet"]["field"] == "segment" and spec["columns"] == 3
    rows = spec["data"]["values"]
    first = audit_sample["segments"][0]["response_curve"]["bins"][0]
    assert {"segment": "inbound/smb", "bin": "0", "rate": first["rate"], "lo": first["ci"][0],
            "hi": first["ci"][1]}.items() <= rows[0].items()
    assert len({r["segment"] for r in rows}) == 9


def test_empty_data_gives_no_chart() -> None:
    f = Formatter("fr")
    assert charts.scatter_spec({"points": []}, f) is None
    assert charts.response_curve_spec([{"label": "x", "response_curve": None}], f) is None
    assert charts.ttf_curve_spec([], f) is None
    assert charts.segments_spec([{"label": "x", "conversion_rate": None}], f) is None


def test_trend_is_optional(audit_sample: dict[str, Any]) -> None:
    audit_sample["scatter"]["trend"] = {"slope": None, "intercept": None, "r2": None}
    audit_sample["scatter"]["x_mean"] = None
    spec = charts.scatter_spec(audit_sample["scatter"], Formatter("fr"))
    assert len(spec["layer"]) == 2
    VALIDATOR.validate(spec)


def test_render_svg_and_png_offline(audit_sample: dict[str, Any]) -> None:
    spec = charts.scatter_spec(audit_sample["scatter"], Formatter("fr"))
    svg = charts.to_svg(spec, "fr")
    assert svg.startswith("<svg") and "Taux de conversion" in svg
    assert "35\u202f%" in svg  # French d3 locale: narrow no-break space before %
    png = charts.to_png(spec, "en", scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_rendering_never_fetches_external_data() -> None:
    spec = {"$schema": alt.SCHEMA_URL, "data": {"url": "https://example.com/data.csv"},
            "mark": "point", "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    with pytest.raises(Exception, match="(?i)allowed|url|access"):
        charts.to_svg(spec)
