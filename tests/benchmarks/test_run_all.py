"""The benchmark suite runner cannot rot: ``run_all.py --quick --no-write`` runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_run_all_quick_smoke(tmp_path: Path) -> None:
    results = ROOT / "benchmarks" / "RESULTS.md"
    before = results.read_text(encoding="utf-8") if results.exists() else None
    env = dict(os.environ, LEVIER_BENCH_DATA=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick", "--no-write"],
                         capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "## Suite" in text and "## Growth" in text
    for name in ("ingest", "audit", "attribution", "experiments"):  # ran at the tiny size, levier side measured
        row = next(ln for ln in text.splitlines() if ln.startswith(f"| {name} | quick |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[3]) > 0 and cells[4].endswith("GiB") and cells[9] == "ok", row
    for name in ("policy", "web", "kpi", "sessions"):  # need big inputs: only their command line is checked
        assert f"| {name} | – |" in text and "ok (--help only)" in text
    assert (tmp_path / "data" / "touches_5000.csv").exists()
    after = results.read_text(encoding="utf-8") if results.exists() else None
    assert after == before  # --no-write: nothing recorded


def _suite():  # noqa: ANN202
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _m(touches: int, seconds: float, rss_gib: float) -> dict:
    return {"touches": touches, "levier_s": seconds, "levier_rss": rss_gib * 2**30, "load": 1.0}


def test_update_merges_sizes_and_growth_reads_the_last_step() -> None:
    """A benchmark re-run at 100M alone keeps its 1M and 10M rows; the growth table shows each step."""
    ra = _suite()
    old = [ra.Run("audit", ["1M", "10M"], ["a"], 100.0, 3 * 2**30, "ok", (1.0, 1.0), [_m(10**6, 10, 0.5), _m(10**7, 80, 2.4)]),
           ra.Run("policy", ["1M", "10M"], ["p"], 50.0, 2**30, "ok", (1.0, 1.0), [_m(10**6, 5, 0.3), _m(10**7, 40, 0.6)])]
    new = [ra.Run("audit", ["100M"], ["a2"], 900.0, 2.5 * 2**30, "ok", (2.0, 2.0), [_m(10**8, 800, 2.5)]),
           ra.Run("kpi", ["100M"], ["k"], 10.0, 2**30, "ok", (2.0, 2.0), [_m(10**8, 100, 2.0)])]
    merged = ra.merge_runs(old, new)
    assert [r.bench for r in merged] == ["audit", "policy", "kpi"]  # the suite's order
    audit = merged[0]
    assert audit.sizes == ["1M", "10M", "100M"] and audit.seconds == 1000.0 and audit.tree_rss == 3 * 2**30
    assert [m["touches"] for m in audit.measures] == [10**6, 10**7, 10**8]
    args = __import__("argparse").Namespace(command="run_all.py", sizes=["1M", "10M", "100M"])
    text = ra.growth_section(merged, args, "2026-11-22 23:00")
    # 10M → 100M: RSS 2.4 → 2.5 GiB is exponent log10(2.5/2.4) = 0.02 (flat); time 80 → 800 s is 1.00
    assert "| audit | 10M → 100M | 10,000,000 → 100,000,000 (10.0×) | 10.00× | 1.00 | 1.04× | 0.02 |" in text
    assert "| audit | 1M → 10M | 1,000,000 → 10,000,000 (10.0×) | 8.00× | 0.90 | 4.80× | 0.68 |" in text
    assert "flat for audit (0.02); still growing for none." in text


def test_a_failed_rerun_keeps_the_sizes_measured_before() -> None:
    ra = _suite()
    old = [ra.Run("ingest", ["1M"], ["i"], 10.0, 2**30, "ok", (1.0, 1.0), [_m(10**6, 10, 0.5)])]
    failed = ra.Run("ingest", ["100M"], ["i"], 3.0, 2**29, "failed (exit 1)", (1.0, 1.0), [])
    merged = ra.merge_runs(old, [failed])
    assert merged[0].sizes == ["1M", "100M"] and merged[0].measures[0]["levier_s"] == 10
    args = __import__("argparse").Namespace(command="run_all.py", sizes=["1M", "100M"], updates=[])
    rows = [ln for ln in ra.suite_section(merged, args, "t", 1.0, (1.0, 1.0)).splitlines() if ln.startswith("| ingest")]
    assert "| ok |" in rows[0] and "| failed (exit 1) |" in rows[1] and "| 10.00 |" in rows[0]


def test_import_reads_a_benchmarks_own_json_as_a_suite_run(tmp_path: Path) -> None:
    """A 100M run made by hand (``benchmarks/policy.py --json``) joins the saved suite like ``--update``."""
    import json

    ra = _suite()
    path = tmp_path / "policy-100m.json"
    path.write_text(json.dumps({"benchmark": "policy", "runs": [{**_m(10**8, 1500.0, 4.0), "load": 6.0}]}))
    run = ra.imported(f"policy:100M={path}")
    assert (run.bench, run.sizes, run.seconds, run.tree_rss, run.status, run.load) == ("policy", ["100M"], 1500.0, 4 * 2**30, "ok", (6.0, 6.0))
    assert run.measures[0]["touches"] == 10**8 and str(path) in run.argv[0]
    for bad in (f"policy:100M,10M={path}", f"audit:100M={path}", f"policy:1G={path}", "policy:100M=", f"nope:100M={path}"):
        with pytest.raises(SystemExit, match="--import"):
            ra.imported(bad)


def test_a_light_mode_runs_the_100m_size_in_a_call_of_its_own() -> None:
    ra = _suite()
    calls = ra.BENCHMARKS["web"].calls(["1M", "10M", "100M"], False)
    assert calls == [(["1M", "10M"], ["--leads", "100000", "1000000", "--no-write"]),
                     (["100M"], ["--leads", "10000000", "--no-write", "--light"])]
    assert ra.BENCHMARKS["web"].calls(["1M"], False) == [(["1M"], ["--leads", "100000", "--no-write"])]
    assert len(ra.BENCHMARKS["audit"].calls(["1M", "100M"], False)) == 1  # no light mode: one call
    two = [ra.Run("web", ["1M"], ["a"], 10.0, 2**30, "ok", (1.0, 1.0), [_m(10**6, 5, 0.3)]),
           ra.Run("web", ["100M"], ["b"], 90.0, 2 * 2**30, "ok", (2.0, 2.0), [_m(10**8, 80, 2.0)])]
    (one,) = ra.merge_runs([], two)
    assert one.sizes == ["1M", "100M"] and one.seconds == 100.0 and one.tree_rss == 2 * 2**30
