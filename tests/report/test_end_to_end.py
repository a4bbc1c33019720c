"""End to end: run_audit on a small hand-built workspace, then every renderer on its to_dict()."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from levier.report import render_audit
from levier.report.fmt import Formatter
from levier.workspace import create_workspace

audit = pytest.importorskip("levier.analysis.audit")
from tests.analysis.conftest import build_workspace  # noqa: E402


def _spec(n: int = 240, seed: int = 11) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"x": int(rng.poisson(4)), "converted": bool(rng.random() < 0.05 + 0.04 * (i % 5)),
             "channel": ("inbound", "outbound")[i % 2], "ttf_h": float(rng.choice([0.5, 3.0, 30.0]))}
            for i in range(n)]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    ws = create_workspace(tmp_path_factory.mktemp("e2e") / "ws", timezone="UTC")
    build_workspace(ws, _spec())
    from levier.analysis import AuditOptions, run_audit

    res = run_audit(ws, AuditOptions(period="2026-10", compare_to="none", segment_by=("channel",)))
    yield res
    ws.close()


def test_every_format_from_a_real_result(result, tmp_path: Path) -> None:
    paths = render_audit(result, formats=("html", "md", "pdf", "xlsx", "json"), lang="fr", out_dir=tmp_path)
    assert {p.suffix for p in paths} == {".html", ".md", ".png", ".pdf", ".xlsx", ".json"}
    data = result.to_dict()
    html = (tmp_path / "audit-2026-10-fr.html").read_text(encoding="utf-8").replace("\u00a0", " ")
    f = Formatter("fr")
    assert f.pct(data["dashboard"]["conversion_rate"]).replace("\u00a0", " ") in html
    assert f.num(data["dashboard"]["r"], 2) in html
    assert not re.search(r"https?:", html)
    assert (tmp_path / "audit-2026-10-fr.pdf").read_bytes().startswith(b"%PDF")


def test_excel_trend_line_equals_the_audit_slope(result, tmp_path: Path) -> None:
    """Excel fits its trend line on the lead-level rows: it must print the audit's m, b and R²."""
    [path] = render_audit(result, formats="xlsx", lang="en", out_dir=tmp_path)
    ws = openpyxl.load_workbook(path, read_only=True)["Scatter data"]
    rows = [(r[11], r[12]) for r in ws.iter_rows(min_row=2, values_only=True) if r[11] is not None]
    x, y = np.array(rows, float).T
    slope, intercept = np.polyfit(x, y, 1)
    corr = result.overall.correlation
    assert len(rows) == result.overall.n
    assert slope == pytest.approx(corr.slope, abs=1e-9)
    assert intercept == pytest.approx(corr.intercept, abs=1e-9)
    assert np.corrcoef(x, y)[0, 1] ** 2 == pytest.approx(corr.r2, abs=1e-9)
