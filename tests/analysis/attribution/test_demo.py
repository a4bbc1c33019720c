"""On the demo data, the Markov attribution recovers the generator's chain (ground_truth.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

demo = pytest.importorskip("levier.data.demo")

from levier.analysis.attribution.journeys import JourneyOptions, path_counts  # noqa: E402
from levier.analysis.attribution.markov import build_chain, markov  # noqa: E402

NAMES = {"(start)": "start", "(conversion)": "conversion", "(null)": "null"}


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from levier.data.ingest import import_file
    from levier.workspace import create_workspace

    base = tmp_path_factory.mktemp("demo")
    summary = demo.generate(base / "data", leads=1500, seed=11)
    ws = create_workspace(base / "ws", timezone="UTC")
    for name in ("leads", "web_events", "stage_events", "deals"):
        import_file(ws, summary.files[name], name, timezone="UTC")
    yield ws, json.loads(Path(summary.ground_truth).read_text(encoding="utf-8"))
    ws.close()


def test_markov_recovers_the_transition_matrix(demo_ws) -> None:  # noqa: ANN001
    ws, truth = demo_ws
    matrix = truth["journeys"]["transition_matrix"]
    pc = path_counts(ws, JourneyOptions(conversion_stage="lead", sources=("web",), lookback_days=3650))
    frame = build_chain(pc).to_frame()
    out_totals = frame.groupby("from")["count"].sum()
    seen = set()
    for row in frame.itertuples(index=False):
        a, b = NAMES.get(row[0], row[0]), NAMES.get(row[1], row[1])
        p, n = matrix[a][b], out_totals[row[0]]
        assert abs(row.probability - p) <= 4.5 * np.sqrt(p * (1 - p) / n) + 1e-3, (a, b, row.probability, p, n)
        seen.add((a, b))
    expected = {(a, b) for a, row in matrix.items() for b, p in row.items() if p > 0}
    assert seen == expected  # no spurious transition (e.g. internal navigation taken for a session)


def test_markov_conversion_probability_matches_the_chain(demo_ws) -> None:  # noqa: ANN001
    ws, truth = demo_ws
    states = truth["journeys"]["states"]
    matrix = truth["journeys"]["transition_matrix"]
    transient = states[:7]
    q = np.array([[matrix[a].get(b, 0.0) for b in transient] for a in transient])
    r = np.array([matrix[a]["conversion"] for a in transient])
    p_true = np.linalg.solve(np.eye(7) - q, r)[0]
    pc = path_counts(ws, JourneyOptions(conversion_stage="lead", sources=("web",), lookback_days=3650))
    res = markov(pc)
    assert res.details.p_conversion == pytest.approx(p_true, abs=4 * np.sqrt(p_true * (1 - p_true) / pc.journeys))
    assert sum(res.conversions) == pytest.approx(pc.total_conversions)
