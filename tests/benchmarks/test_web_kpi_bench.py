"""The web and KPI benchmarks keep the suite contract: --leads/--json/--no-write (and their 100M light modes), one run dict per size."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def _load(name: str) -> object:
    """benchmarks/<name>.py under a private module name (``web`` would be the tests.web package)."""
    spec = importlib.util.spec_from_file_location(f"levier_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mods() -> tuple[object, object]:
    return _load("web"), _load("kpi")


@pytest.mark.parametrize(("name", "light"), [("web.py", "--light"), ("kpi.py", "--steps")])
def test_help_lists_the_suite_flags(name: str, light: str) -> None:
    """The flags run_all passes, the 100M light mode's included (``run_all.BENCHMARKS``)."""
    out = subprocess.run([sys.executable, str(BENCH / name), "--help"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert all(flag in out for flag in ("--leads", "--json", "--no-write", light))


def _run(web: object, times: list[float]) -> object:
    run = web.Run(load_start="1.0 / 1.0 / 1.0", load_end="1.0 / 1.0 / 1.0")  # type: ignore[attr-defined]
    for label in run.times:
        run.times[label] = list(times)
    run.wall, run.cpu = 10.0, 1.0
    return run


def _first(wall: float, pending: int) -> list[dict]:
    """The first dashboard of each of the 4 demo users: ``pending`` of them answered "being computed"."""
    return [{"wall": wall / 4, "pending": i < pending} for i in range(4)]


def test_web_json_runs_and_report(mods: tuple[object, object]) -> None:
    web, _kpi = mods
    sizes = []
    for leads, touches, cold, warm_up, rss in ((100_000, 821_427, 2.0, 10.0, 400 << 20), (1_000_000, 8_214_270, 5.0, 30.0, 600 << 20)):
        inproc = {"cold": {label: {"wall": cold / len(web.IN_PROCESS_PAGES), "cpu": 0.1, "rss": rss} for label in web.IN_PROCESS_PAGES},  # type: ignore[attr-defined]
                  "warm": dict.fromkeys(web.IN_PROCESS_PAGES, 5.0), "start_s": 3.0, "rss_start": rss // 2, "rss_peak": rss,  # type: ignore[attr-defined]
                  "first": _first(8.0, 3), "warm_up_s": warm_up, "warm_runs": 3}
        z = web.Size(f"{leads:,} leads", leads, touches, "2.5 / 2.0 / 1.0", inproc, "2.0 / 2.0 / 1.0",  # type: ignore[attr-defined]
                     restart={"first": _first(0.4, 0), "warm_up_s": 0.1, "warm_runs": 0})
        z.http = {1: {"stress": _run(web, [0.1, 0.2, 0.4]), "users": _run(web, [0.01, 0.02, 0.03])}}
        z.rss = {1: {"main": rss + 1}}
        sizes.append(z)
    out = web.json_runs(sizes, [1])  # type: ignore[attr-defined]
    assert out["benchmark"] == "web" and [r["touches"] for r in out["runs"]] == [821_427, 8_214_270]
    first = out["runs"][0]
    assert first["levier_s"] == pytest.approx(12.0)  # the background warm-up + every page's first request
    assert (first["first_s"], first["first_pending"], first["warm_up_s"], first["restart_first_s"], first["restart_computed"]) == (8.0, 3, 10.0, 0.4, 0)
    assert first["levier_rss"] == (400 << 20) + 1 and first["load"] == 2.5  # the busier of the server worker and the in-process app
    assert first["note"].startswith("users p95 (1 worker): dashboard 29 ms")  # inclusive 95th percentile of [10, 20, 30] ms
    args = argparse.Namespace(think=(1.0, 3.0), leads=[100_000, 1_000_000], users=50, workers=[1], stress_seconds=20.0, think_seconds=40.0,
                              in_process=300, light=False)
    text = web.report(sizes, args)  # type: ignore[attr-defined]
    assert text.startswith("## Web") and "--leads 100000 1000000" in text and "all pages cold 2.0 s → 5.0 s (2.5×)" in text
    assert "| 100,000 | 3.0 | 8.00 (2.00) | 3 of 4 | 10.0 | 3 views | 0.40 (0.10) | 0 of 4 | 0 |" in text
    assert "**warm-up + all pages cold** | **35.00**" in text


def test_kpi_json_runs(mods: tuple[object, object]) -> None:
    _web, kpi = mods
    r = {"leads": 100_000, "touches": 821_427, "build": 20.0, "incremental": 5.0, "full": 12.5, "load": 3.2, "rss": 1 << 30,
         "load_before": "3.2, 2.0, 1.0"}
    out = kpi.json_runs([r])  # type: ignore[attr-defined]
    assert out == {"benchmark": "kpi", "runs": [{"leads": 100_000, "touches": 821_427, "levier_s": 20.0, "levier_s_is": "first build of every series",
                                                 "levier_rss": 1 << 30, "load": 3.2, "note": "refresh 5.0 s vs full 12.5 s (2.5×)",
                                                 "steps": ["first", "incremental", "full"], "incremental_s": 5.0, "full_s": 12.5}]}
    light = {k: v for k, v in r.items() if k != "full"} | {"steps": ["first", "incremental"]}  # --steps first,incremental (100M)
    (run,) = kpi.json_runs([light])["runs"]  # type: ignore[attr-defined]
    assert "full_s" not in run and run["steps"] == ["first", "incremental"] and run["note"] == "refresh after +1 day 5.0 s (light mode: no full recomputation)"
