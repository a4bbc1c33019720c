"""Page caches stay right with several workers: keyed on the data's version, never on a timer.

A second app on the same workspace stands for another worker process (it shares nothing with
the first but the workspace's files); the module cache is shared by both apps here, which is
the hard case: an entry filled by one app must not hide what the other one wrote.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from levier.data.inbox import append_facts
from levier.loop.services import actions, users
from levier.report.fmt import Formatter
from levier.web import pages_cache
from levier.web.app import create_app
from levier.web.pages_core import CSRF_PLACEHOLDER, MemoFormatter, facts_version

PASSWORD = "correct-horse"


@dataclass
class Workers:
    one: object
    two: object
    token: str

    def client(self, app: object, role: str, lang: str = "en") -> TestClient:
        c = TestClient(app, follow_redirects=False)  # type: ignore[arg-type]
        c.cookies.set("levier_lang", lang)
        assert c.post("/login", data={"username": role, "password": PASSWORD}).status_code == 303
        return c


@pytest.fixture
def workers(workspace) -> Iterator[Workers]:  # noqa: ANN001
    with workspace.session() as s:
        for role in ("admin", "editor", "viewer"):
            users.create_user(s, role, role=role, password=PASSWORD, name=role.title())
        actions.create_action(s, "Call within 2 h", owner="editor", due_date=date.today() + timedelta(days=20), kpi_key="ttf_hours", target=2, baseline=8)
        token = users.create_token(s, users.find_user(s, "admin").id, "test")[1]
        s.commit()
    pages_cache.clear_cache()
    one, two = create_app(workspace.path), create_app(workspace.path)
    with TestClient(one), TestClient(two):
        yield Workers(one, two, token)
    pages_cache.clear_cache()


def _column(html: str, status: str) -> str:
    return html.split(f'id="col-{status}"', 1)[1].split("</section>", 1)[0]


def test_board_shows_a_write_through_another_worker_at_once(workers: Workers, workspace) -> None:  # noqa: ANN001
    page = workers.client(workers.one, "viewer")
    before = page.get("/actions").text
    assert "Call within 2 h" in _column(before, "open") and "Follow up every lead" not in before
    api = TestClient(workers.two)
    r = api.post("/api/v1/actions", headers={"Authorization": f"Bearer {workers.token}"},
                 json={"title": "Follow up every lead", "owner": "editor", "due_date": (date.today() + timedelta(days=9)).isoformat(),
                       "kpi_key": "conversion_rate", "target": 0.2})
    assert r.status_code == 201, r.text
    assert "Follow up every lead" in _column(page.get("/actions").text, "open")  # next page, no wait
    with workspace.session() as s:  # a third writer that is not a web app at all
        first = actions.list_actions(s)[0]
        actions.set_status(s, first.id, "done")
        s.commit()
    after = page.get("/actions").text
    assert f'id="action-{first.id}"' in _column(after, "done") and f'id="action-{first.id}"' not in _column(after, "open")
    partial = page.get("/actions", headers={"HX-Request": "true", "HX-Target": "board"}).text
    assert partial.startswith('<div id="board"') and f'id="action-{first.id}"' in _column(partial, "done")


def test_cached_board_forms_carry_each_sessions_own_csrf_token(workers: Workers) -> None:
    pages = [workers.client(workers.one, "editor").get("/actions").text for _ in range(2)]
    tokens = [set(re.findall(r'name="csrf_token" value="([^"]+)"', p)) for p in pages]
    assert all(len(t) == 1 for t in tokens) and tokens[0] != tokens[1]  # one fragment, two sessions, two tokens
    assert all(CSRF_PLACEHOLDER not in p for p in pages)
    viewer = workers.client(workers.one, "viewer").get("/actions").text
    assert 'action="/actions/' not in viewer and "Add an action" not in viewer  # the role is part of the key


def test_a_new_target_rebuilds_the_dashboard_without_recomputing_facts(workers: Workers, monkeypatch: pytest.MonkeyPatch) -> None:
    import levier.analysis.kpis as kpis

    calls: list[str] = []
    real = kpis.compute_kpi
    monkeypatch.setattr(kpis, "compute_kpi", lambda ws, key, *a, **kw: calls.append(key) or real(ws, key, *a, **kw))
    page = workers.client(workers.one, "admin")
    first = page.get("/?view=ceo").text
    assert "(action #" not in first.split("Win rate", 1)[1].split("</div>\n    </div>", 1)[0]
    computed = len(calls)
    assert computed > 0 and page.get("/?view=ceo").text == first and len(calls) == computed  # cached
    api = TestClient(workers.two)
    r = api.post("/api/v1/actions", headers={"Authorization": f"Bearer {workers.token}"},
                 json={"title": "Win more", "owner": "admin", "due_date": (date.today() + timedelta(days=9)).isoformat(),
                       "kpi_key": "win_rate", "target": 0.42})
    assert r.status_code == 201, r.text
    tile = page.get("/?view=ceo").text.split("Win rate", 1)[1].split("</div>\n    </div>", 1)[0]
    assert f"target ≥ 42.0% (action #{r.json()['id']})" in tile
    assert len(calls) == computed  # the loop changed, the facts did not: no figure recomputed


def test_an_import_changes_the_facts_version_and_the_figures(workers: Workers) -> None:
    ws = workers.one.state.workspace  # type: ignore[attr-defined]
    page = workers.client(workers.one, "editor")
    assert "zz-new-rep" not in page.get("/?view=sales").text
    v1 = facts_version(ws)
    assert facts_version(ws) == v1  # nothing written: same version (a stat, no query)
    created = datetime.combine(date.today(), datetime.min.time()) - timedelta(days=2)
    n = append_facts(ws, "leads", [{"lead_id": "L-cache-1", "created_at": created, "owner": "zz-new-rep", "channel": "inbound"}], source="test-cache")
    assert n == 1
    v2 = facts_version(ws)
    assert v2 != v1
    assert '<option selected>zz-new-rep</option>' in page.get("/?view=sales").text  # same worker
    other = workers.client(workers.two, "editor")
    assert "zz-new-rep" in other.get("/?view=sales").text  # and the other one
    append_facts(ws, "leads", [{"lead_id": "L-cache-2", "created_at": created, "owner": "zz-new-rep", "channel": "inbound"}],
                 source="test-cache", reuse_batch=True)  # a row appended to the same batch still changes the version
    assert facts_version(ws) != v2


def test_cache_keeps_the_most_recently_used_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    pages_cache.clear_cache()
    monkeypatch.setattr(pages_cache, "CACHE_SIZE", 3)
    made: list[int] = []
    for i in (1, 2, 3, 1, 4):  # 1 used again, so 2 is the least recently used when 4 comes in
        assert pages_cache.cached(("t", i), lambda i=i: made.append(i) or i * 10) == i * 10
    assert made == [1, 2, 3, 4]
    pages_cache.cached(("t", 1), lambda: made.append(-1))
    pages_cache.cached(("t", 2), lambda: made.append(2) or 20)
    assert made == [1, 2, 3, 4, 2]
    pages_cache.clear_cache()


def test_memo_formatter_gives_what_the_formatter_gives() -> None:
    for lang in ("fr", "en"):
        f, m = Formatter(lang), MemoFormatter(lang)
        for method, args in [("num", (1234.5678, 2)), ("num", (True,)), ("num", (1,)), ("num", (float("nan"),)), ("num", (None,)),
                             ("pct", (0.1834,)), ("hours", (2.25,)), ("integer", (1234.6,)), ("date", ("2026-10-05",)),
                             ("interval", ([0.1, 0.2], 2, True)), ("text", (3,))]:
            for _ in range(2):  # the second call is a memo hit (or, for a list, formatted again)
                assert getattr(m, method)(*args) == getattr(f, method)(*args), (lang, method, args)
        assert m.num(True) != m.num(1) or math.isnan(1)  # a bool is not the number 1


@pytest.mark.slow
def test_two_real_workers_show_a_form_post_on_the_next_page(workspace, tmp_path) -> None:  # noqa: ANN001
    """`levier serve --workers 2`: an action moved through one process shows at once on both."""
    import http.client
    import shutil
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path
    from urllib.parse import urlencode

    with workspace.session() as s:
        users.create_user(s, "editor", role="editor", password=PASSWORD)
        action_id = actions.create_action(s, "Move me", owner="editor", due_date=date.today() + timedelta(days=9), kpi_key="ttf_hours", target=2).id
        s.commit()
    workspace.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    levier = shutil.which("levier", path=str(Path(sys.executable).parent)) or "levier"
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([levier, "serve", "-w", str(workspace.path), "--port", str(port), "--workers", "2"], stdout=log, stderr=subprocess.STDOUT)
    try:
        conns: dict[str, list[tuple[http.client.HTTPConnection, str]]] = {}
        deadline = time.monotonic() + 90
        while len(conns) < 2 and time.monotonic() < deadline:  # keep-alive connections until both workers hold some
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("POST", "/login", urlencode({"username": "editor", "password": PASSWORD}), {"Content-Type": "application/x-www-form-urlencoded"})
                r = c.getresponse()
                r.read()
            except OSError:
                time.sleep(0.3)
                continue
            cookie = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
            conns.setdefault(r.getheader("X-Levier-Worker"), []).append((c, cookie))
        assert len(conns) == 2, f"one worker answered everything: {list(conns)}"

        def board(c: http.client.HTTPConnection, cookie: str) -> str:
            c.request("GET", "/actions", headers={"Cookie": cookie})
            return c.getresponse().read().decode()

        for c, cookie in (pair for pairs in conns.values() for pair in pairs):
            assert f'id="action-{action_id}"' in _column(board(c, cookie), "open")  # both caches filled
        for worker, target in zip(sorted(conns), ("done", "in_progress"), strict=True):
            c, cookie = conns[worker][0]
            token = re.search(r'name="csrf_token" value="([^"]+)"', board(c, cookie)).group(1)  # type: ignore[union-attr]
            c.request("POST", f"/actions/{action_id}/status", urlencode({"status": target, "csrf_token": token}),
                      {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            r.read()
            assert r.status == 303 and r.getheader("X-Levier-Worker") == worker
            for pairs in conns.values():  # the very next page, on both processes
                assert f'id="action-{action_id}"' in _column(board(*pairs[0]), target)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
