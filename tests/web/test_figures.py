"""Dashboard figures stored per facts version beside the facts, warmed in the background (decision 0230).

"Another process" or "a restart" is this process with its memory cache cleared
(``pages_cache.clear_cache``): all it then shares with the first is the workspace's files.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from levier.loop.services import users
from levier.web import figures, pages_cache
from levier.web.app import create_app
from levier.web.routes.pages.home import WARM_JOBS

PASSWORD = "correct-horse"


def _restart() -> None:
    """What a new process starts with: nothing in memory (the store file stays)."""
    pages_cache.clear_cache()
    figures._STORES.clear()


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    _restart()
    yield
    _restart()


def _lead(ws, lead_id: str, owner: str, row_id: int) -> None:  # noqa: ANN001
    """One lead created yesterday (inside the dashboard's default period, the last 30 days) in a batch of its own."""
    yesterday = (datetime.now() - timedelta(days=1)).replace(microsecond=0)
    ws.facts.con.raw_sql(f"INSERT INTO leads (lead_id, created_at, owner, _row_id, _batch) "
                         f"VALUES ('{lead_id}', TIMESTAMP '{yesterday}', '{owner}', {row_id}, {row_id})")


class Counter:
    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_a_figure_is_computed_once_per_facts_version_and_survives_a_restart(workspace) -> None:  # noqa: ANN001
    compute = Counter({"n": np.int64(3), "rate": np.float64(0.25), "pair": (1, 2), "at": datetime(2026, 1, 2, 3, 4)})
    want = {"n": 3, "rate": 0.25, "pair": [1, 2], "at": "2026-01-02T03:04:00"}  # the JSON round trip, fresh or stored alike
    first = figures.figure(workspace, ("kpi", "x", datetime(2026, 1, 1)), compute)
    assert first == want and type(first["n"]) is int and compute.calls == 1
    assert figures.figure(workspace, ("kpi", "x", datetime(2026, 1, 1)), compute) == want and compute.calls == 1  # memory
    _restart()
    assert figures.figure(workspace, ("kpi", "x", datetime(2026, 1, 1)), compute) == want and compute.calls == 1  # the store
    assert (workspace.path / figures.STORE_NAME).is_file()
    _lead(workspace, "L1", "rep-a", 1)  # new facts: a new version
    compute.value = {"n": 4}
    assert figures.figure(workspace, ("kpi", "x", datetime(2026, 1, 1)), compute) == {"n": 4} and compute.calls == 2


def test_peeking_never_computes_it_shows_the_last_value_and_its_date(workspace) -> None:  # noqa: ANN001
    compute = Counter([1, 2])
    figures.figure(workspace, ("owners",), compute)
    _lead(workspace, "L1", "rep-a", 1)
    with figures.peeking() as seen:
        assert figures.figure(workspace, ("owners",), Counter("never")) == [1, 2]  # the previous version's value
        assert figures.figure(workspace, ("funnel",), Counter("never"), default=[]) == []  # never computed: the default
    assert seen.pending and seen.missing == [("owners",), ("funnel",)]
    assert seen.since is not None and abs(datetime.fromisoformat(seen.since) - datetime.utcnow()) < timedelta(minutes=5)
    assert compute.calls == 1


def test_a_failure_is_not_stored(workspace) -> None:  # noqa: ANN001
    def boom() -> object:
        raise RuntimeError("no such table")

    assert figures.figure(workspace, ("kpi", "cplq"), boom, default=None) is None
    assert figures.figure(workspace, ("kpi", "cplq"), Counter("never"), default=None) is None  # kept in memory: not retried per request
    _restart()
    assert figures.figure(workspace, ("kpi", "cplq"), Counter(0.5), default=None) == 0.5  # another process computes it


def test_the_store_keeps_the_newest_versions_only(workspace, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(figures, "KEEP_VERSIONS", 2)
    store = figures.store_of(workspace)
    for i in range(4):
        store.put(f"v{i}", "k", str(i))
    rows = store._run("SELECT version FROM figures WHERE key = 'k' ORDER BY version", ())
    assert [r[0] for r in rows] == ["v2", "v3"] and store.last("k")[0] == 3


def test_one_process_warms_at_a_time_the_other_reads_the_store(workspace) -> None:  # noqa: ANN001
    computed: list[str] = []

    def runner(job: object) -> None:
        figures.figure(workspace, ("job", job), lambda: computed.append(str(job)) or len(computed))

    other = figures._FileLock(workspace.path / figures.LOCK_NAME)  # another worker is warming
    assert other.acquire()
    try:
        warmer = figures.Warmer(workspace, runner)
        warmer.kick("a")
        assert not warmer.wait("a", 0.3) and computed == []  # it waits for the other worker, computes nothing
        runner("a")  # the other worker stores the figure
        assert computed == ["a"]
        _restart()
        assert warmer.wait("a", 10) and computed == ["a"] and warmer.runs == 0  # read from the store, not recomputed
    finally:
        other.release()
    warmer.kick("b")
    assert warmer.wait("b", 10) and computed == ["a", "b"] and warmer.runs == 1
    assert warmer.idle.wait(10) and warmer.thread is None  # started by a request: the thread ends with its queue


@pytest.fixture
def served(workspace):  # noqa: ANN001, ANN201
    with workspace.session() as s:
        users.create_user(s, "admin", role="admin", password=PASSWORD, name="Admin")
        s.commit()
    _lead(workspace, "L1", "rep-a", 1)
    return workspace.path


def _client(app: object, lang: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
    c.cookies.set("levier_lang", lang)
    assert c.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
    return c


def _options(html: str) -> list[str]:
    body = html.split('id="rep"', 1)[1].split("</select>", 1)[0]
    return re.findall(r"<option[^>]*>([^<]*)</option>", body)


def test_the_server_warms_at_start_and_a_restart_computes_nothing(served) -> None:  # noqa: ANN001
    app = create_app(served, warm=True)
    with TestClient(app):
        warmer = app.state.warmer
        assert warmer.idle.wait(60) and warmer.runs == len(WARM_JOBS)
        assert warmer.thread is not None  # serving: it stays to follow the facts version
    keys = [json.loads(k)[:2] for (k,) in figures.FigureStore(served / figures.STORE_NAME)._run("SELECT key FROM figures ORDER BY key", ())]
    kpis = ["complaint_rate", "conversion_rate", "cpl", "cplq", "cplq", "share_within_sla", "spend", "ttf_hours", "win_rate", "win_rate"]
    assert [k[0] for k in keys] == ["channels", "funnel", *["kpi"] * 10, "owners"]  # the three views' figures (no audit: no Q3 list)
    assert [k[1] for k in keys if k[0] == "kpi"] == kpis  # cplq and win_rate: this period and the previous one
    _restart()
    again = create_app(served, warm=True)
    with TestClient(again):
        assert again.state.warmer.idle.wait(60) and again.state.warmer.runs == 0
        assert _options(_client(again, "en").get("/?view=sales").text) == ["rep-a"]


@pytest.mark.parametrize(("lang", "notice"), [("en", "being computed; shown meanwhile: the figures of"),
                                               ("fr", "en cours de calcul ; en attendant, voici ceux du")])
def test_a_new_facts_version_shows_the_last_figures_while_the_warmer_computes(served, monkeypatch: pytest.MonkeyPatch, lang: str, notice: str) -> None:  # noqa: ANN001
    app = create_app(served, warm=True)
    with TestClient(app):
        warmer, ws = app.state.warmer, app.state.workspace
        assert warmer.idle.wait(60)
        c = _client(app, lang)
        assert _options(c.get("/?view=sales").text) == ["rep-a"]
        monkeypatch.setattr(figures, "WAIT_SECONDS", 0.0)
        gate = threading.Event()
        runner = warmer.runner
        monkeypatch.setattr(warmer, "runner", lambda job: gate.wait(30) and runner(job))  # the warm-up is slow
        _lead(ws, "L2", "rep-b", 2)
        page = c.get("/?view=sales").text
        assert notice in page and 'role="status"' in page and 'hx-trigger="every 5s"' in page
        assert _options(page) == ["rep-a"]  # the last figures, not a page waiting on the facts
        assert notice in c.get("/?view=sales").text  # a "being computed" page is never cached
        monkeypatch.setattr(figures, "WAIT_SECONDS", 60.0)
        polled = time.perf_counter()
        assert notice in c.get("/?view=sales", headers={"HX-Request": "true"}).text  # the page's own refresh never waits
        assert time.perf_counter() - polled < 30
        gate.set()
        assert warmer.wait(("sales", None), 60)
        fresh = c.get("/?view=sales").text
        assert _options(fresh) == ["rep-a", "rep-b"] and "hx-trigger" not in fresh.split('id="dashboard-body"', 1)[1].split(">", 1)[0]


def test_no_earlier_figures_says_so(served, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(figures, "WAIT_SECONDS", 0.0)
    app = create_app(served)  # not warmed at start: the first request asks the warmer and does not wait
    gate = threading.Event()
    runner = app.state.warmer.runner
    app.state.warmer.runner = lambda job: gate.wait(30) and runner(job)
    with TestClient(app):
        page = _client(app, "en").get("/?view=sales").text
        assert "being computed; this page updates itself when they are ready" in page and _options(page) == []
        gate.set()
        assert app.state.warmer.wait(("sales", None), 60)
        assert _options(_client(app, "en").get("/?view=sales").text) == ["rep-a"]


def test_a_share_link_never_computes_the_figures_either(served, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from levier.loop import share
    from levier.workspace import open_workspace

    monkeypatch.setattr(figures, "WAIT_SECONDS", 0.0)
    ws = open_workspace(served)
    with ws.session() as s:
        secret = share.create_link(s, "dashboard", lang="fr")[1]
        s.commit()
    ws.close()
    app = create_app(served)
    gate = threading.Event()
    runner = app.state.warmer.runner
    app.state.warmer.runner = lambda job: gate.wait(30) and runner(job)
    with TestClient(app):
        page = TestClient(app).get(f"/share/{secret}")
        assert page.status_code == 200 and "en cours de calcul ; rechargez cette page dans une minute" in page.text
        gate.set()
        assert app.state.warmer.wait(("ceo", None), 60)
        again = TestClient(app).get(f"/share/{secret}").text
        assert "en cours de calcul" not in again and "Page partagée en lecture seule" in again


_WORKER = """
import sys, time
from pathlib import Path
from levier.web import figures
from levier.workspace import open_workspace

ws = open_workspace(sys.argv[1], read_only=True)  # as the workers of `levier serve --workers N`
log = Path(sys.argv[2])

def compute():
    with log.open("a") as f:
        f.write("computed\\n")
    time.sleep(1.0)  # long enough for the other process to find the lock taken
    return 42

warmer = figures.Warmer(ws, lambda job: figures.figure(ws, ("answer",), compute))
(log.parent / f"ready-{sys.argv[3]}").touch()  # both processes ready before either starts: they race for the figure
while len(list(log.parent.glob("ready-*"))) < 2:
    time.sleep(0.01)
warmer.kick("job")
assert warmer.wait("job", 60)
print(figures.figure(ws, ("answer",), lambda: -1))
ws.close()
"""


def test_two_worker_processes_compute_a_figure_once(workspace, tmp_path) -> None:  # noqa: ANN001
    import subprocess
    import sys

    workspace.close()  # the workers open the file read-only
    log = tmp_path / "computed.log"
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(workspace.path), str(log), str(i)], stdout=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and outs == ["42", "42"]
    assert log.read_text().splitlines() == ["computed"]  # one process computed it; the other read it from figures.sqlite
