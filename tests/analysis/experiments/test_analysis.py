"""Engine aggregation on the demo data: counts match the generator; the true uplift is recovered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from levier.analysis.experiments.analysis import collect_statistics
from levier.analysis.experiments.decision import decide
from levier.analysis.experiments.metrics import MetricSpec
from levier.analysis.experiments.protocol import Protocol
from levier.analysis.experiments.readout import read_out
from levier.workspace import create_workspace

demo = pytest.importorskip("levier.data.demo")
KEY = "subject-line-2026-10"


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory):
    from levier.data.ingest import import_file

    base = tmp_path_factory.mktemp("exp")
    summary = demo.generate(base / "demo", leads=4000, seed=11)
    ws = create_workspace(base / "ws")
    for name, path in summary.files.items():
        import_file(ws, path, name)
    truth = json.loads((base / "demo" / "ground_truth.json").read_text())["experiment"]
    yield ws, truth
    ws.close()


def test_engine_counts_match_ground_truth(demo_ws) -> None:  # noqa: ANN001
    ws, truth = demo_ws
    p = Protocol(key=KEY)
    data = collect_statistics(ws.tables, KEY, [m for _r, m in p.metrics()], p.variants, dimensions=["channel"],
                              roles={m.name: r for r, m in p.metrics()})
    for arm in ("control", "treatment"):
        s = data.stat("conversion", arm)
        assert s.n == truth["units"][arm] and s.sum == truth["observed_conversions"][arm]
    by_channel = sum(data.stat("conversion", "control", "channel", v).n for v in data.breakdowns()["channel"])
    assert by_channel == truth["units"]["control"]


@pytest.mark.parametrize("engine", ["frequentist", "bayesian", "sequential"])
def test_true_uplift_is_inside_the_interval(demo_ws, engine: str) -> None:  # noqa: ANN001
    from levier.analysis.experiments.readout import ReadoutOptions

    ws, truth = demo_ws
    p = Protocol(key=KEY, secondary=[], guardrails=[], dimensions=[])
    data = collect_statistics(ws.tables, KEY, [p.primary], p.variants)
    res = read_out(data, ReadoutOptions(engine=engine))
    e = res.effects[0]
    assert e.ci_low <= truth["true_relative_uplift"] <= e.ci_high
    assert decide(res, p).light in ("green", "amber")


def test_covariate_ratio_and_capped_revenue_metrics(demo_ws) -> None:  # noqa: ANN001
    ws, _truth = demo_ws
    metrics = [MetricSpec(name="conv_cuped", kind="conversion", covariate="pre_touches"),
               MetricSpec(name="touches", kind="count", direction_filter="out", covariate="score"),
               MetricSpec(name="revenue", kind="revenue", window_days=400, cap=1000.0),
               MetricSpec(name="complaints", kind="ratio", outcomes=("complaint",), direction_filter="out")]
    data = collect_statistics(ws.tables, KEY, metrics, ["control", "treatment"])
    rev = data.stat("revenue", "control")
    assert rev.sum <= 1000.0 * rev.n
    res = read_out(data)
    assert {e.metric for e in res.effects} == {m.name for m in metrics}
    assert next(e for e in res.effects if e.metric == "touches").theta is not None


def test_unknown_experiment_is_a_clear_error(demo_ws) -> None:  # noqa: ANN001
    from levier.errors import AnalysisError
    from levier.i18n import use_language

    ws, _truth = demo_ws
    with use_language("en"), pytest.raises(AnalysisError, match="no assignments"):
        collect_statistics(ws.tables, "nope", [MetricSpec(name="c")], ["control", "treatment"])


def test_store_and_reassign_in_workspace(demo_ws, tmp_path: Path) -> None:  # noqa: ANN001
    from datetime import datetime

    from levier.analysis.experiments.assignment import split_units
    from levier.analysis.experiments.storage import (
        eligible_leads,
        existing_assignments,
        lead_exclusions,
        store_assignments,
    )

    ws, _truth = demo_ws
    ids = eligible_leads(ws, since=datetime(2026, 7, 1), until=datetime(2026, 7, 15))
    excl = lead_exclusions(ws)
    split = split_units("new-exp", ids, ["a", "b"], existing=existing_assignments(ws, "new-exp"), exclusions=excl)
    assert store_assignments(ws, "new-exp", split.new, datetime(2026, 11, 1)) == len(split.new) > 0
    stored = existing_assignments(ws, "new-exp")
    assert stored == split.new and not set(stored) & set(excl)
    again = split_units("new-exp", ids, ["a", "b"], [1, 9], existing=stored, exclusions=excl)
    assert not again.new and again.kept == stored
