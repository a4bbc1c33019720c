"""The server-rendered pages through their forms: login, CSRF, roles, action board, share links, language, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from levier.loop import share
from levier.loop.models import Action, ShareLink
from levier.loop.services import actions, users
from levier.web.app import create_app

PASSWORD = "correct-horse"


@dataclass
class Site:
    app: object
    ws: object

    def client(self, role: str | None = None, lang: str = "en") -> TestClient:
        c = TestClient(self.app, raise_server_exceptions=True, follow_redirects=False)  # type: ignore[arg-type]
        c.cookies.set("levier_lang", lang)
        if role:
            r = c.post("/login", data={"username": role, "password": PASSWORD, "next": "/actions"})
            assert r.status_code == 303, r.text
        return c


def csrf_of(html: str) -> str:
    """The session's CSRF token; every form of the page must carry it."""
    tokens = set(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', html))
    fields = {value for name, value in tokens if name == "csrf_token"}
    assert len(fields) == 1 and "" not in fields, f"forms carry {fields}"
    assert ("", "") not in tokens
    return fields.pop()


@pytest.fixture
def site(workspace) -> Iterator[Site]:  # noqa: ANN001
    with workspace.session() as s:
        for role in ("admin", "editor", "viewer"):
            users.create_user(s, role, role=role, password=PASSWORD, name=role.title())
        actions.create_action(s, "Late action", owner="editor", due_date=date.today() - timedelta(days=3), kpi_key="conversion_rate", target=0.2)
        actions.create_action(s, "Future action", owner="admin", due_date=date.today() + timedelta(days=20), kpi_key="ttf_hours", target=2, baseline=8)
        s.commit()
    app = create_app(workspace.path)
    with TestClient(app):
        yield Site(app, app.state.workspace)


def test_pages_need_a_login_and_keep_the_target(site: Site) -> None:
    r = site.client().get("/actions?owner=admin")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/actions%3Fowner%3Dadmin"
    bad = site.client().post("/login", data={"username": "admin", "password": "nope-nope"})
    assert bad.status_code == 401 and "Unknown user name or wrong password." in bad.text
    c = site.client()
    ok = c.post("/login", data={"username": "admin", "password": PASSWORD, "next": "https://evil.example/"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never redirected off-site
    assert c.get("/").status_code == 200


def test_action_board_forms_need_the_csrf_token(site: Site) -> None:
    c = site.client("editor")
    page = c.get("/actions")
    assert page.status_code == 200 and "Late action" in page.text and "Future action" in page.text
    form = {"title": "Call within 2 h", "owner": "editor", "due_date": (date.today() + timedelta(days=30)).isoformat(),
            "kpi_key": "ttf_hours", "target": "2", "baseline": "8"}
    missing = c.post("/actions", data=form)
    assert missing.status_code == 403 and "CSRF" in missing.text
    forged = c.post("/actions", data={**form, "csrf_token": "forged"})
    assert forged.status_code == 403
    with site.ws.session() as s:
        assert s.query(Action).count() == 2
    good = c.post("/actions", data={**form, "csrf_token": csrf_of(page.text)})
    assert good.status_code == 303 and good.headers["location"] == "/actions"
    board = c.get("/actions")
    assert "Call within 2 h" in board.text and "Action #3 added." in board.text
    with site.ws.session() as s:
        a = s.get(Action, 3)
        assert (a.title, a.kpi_key, a.target, a.baseline) == ("Call within 2 h", "ttf_hours", 2.0, 8.0)


def test_roles_are_checked_on_every_form(site: Site) -> None:
    viewer = site.client("viewer")
    page = viewer.get("/actions")
    assert page.status_code == 200 and 'action="/actions"' not in page.text.replace('action="/actions" class="row filters"', "")
    token = csrf_of(page.text)  # the logout form carries it
    for path, data in (("/actions", {"title": "x", "owner": "viewer", "due_date": "2030-01-01", "kpi_key": "ttf_hours", "target": "1"}),
                       ("/actions/1/status", {"status": "done"}), ("/retros", {"template": "weekly_micro_retro", "title": "t", "objective": "o"}),
                       ("/shares", {"target": "dashboard", "days": "7"}), ("/notes", {"lead_id": "L1", "text": "hi"})):
        r = viewer.post(path, data={**data, "csrf_token": token})
        assert r.status_code == 403, path
        assert "Your role (viewer) cannot do this; it needs editor." in r.text
    with site.ws.session() as s:
        assert s.get(Action, 1).status == "open" and s.query(ShareLink).count() == 0


def test_action_board_filters_and_moves(site: Site) -> None:
    c = site.client("editor")
    overdue = c.get("/actions?overdue=1")
    assert "Late action" in overdue.text and "Future action" not in overdue.text
    by_owner = c.get("/actions?owner=admin")
    assert "Future action" in by_owner.text and "Late action" not in by_owner.text
    token = csrf_of(overdue.text)
    assert c.post("/actions/1/status", data={"status": "in_progress", "csrf_token": token}).status_code == 303
    cols = c.get("/actions?status=in_progress").text
    assert "Late action" in cols and "Future action" not in cols
    early = c.post("/actions/2/verify", data={"csrf_token": token}, headers={"referer": "http://testserver/actions"})
    assert early.status_code == 303  # a rule error comes back as a message on the board
    assert "can be verified from" in c.get("/actions").text


def test_share_link_opens_logged_out_until_revoked_or_expired(site: Site) -> None:
    editor = site.client("editor")
    token = csrf_of(editor.get("/shares").text)
    made = editor.post("/shares", data={"target": "dashboard", "days": "3", "csrf_token": token})
    url = made.headers["location"].split("new=", 1)[1]
    secret = url.rsplit("/", 1)[1]
    anon = site.client()
    shared = anon.get(f"/share/{secret}")
    assert shared.status_code == 200 and "Read-only shared page" in shared.text and "Log out" not in shared.text
    assert "frame-ancestors *" in shared.headers["content-security-policy"]
    with site.ws.session() as s:
        link = s.query(ShareLink).one()
        assert link.token_hash != secret and link.prefix == secret[:6] and link.last_viewed_at is not None
        assert 2.9 < (link.expires_at - link.created_at).total_seconds() / 86400 <= 3.0
    editor.post(f"/shares/{link.id}/revoke", data={"csrf_token": token})
    gone = anon.get(f"/share/{secret}")
    assert gone.status_code == 404 and "unknown, expired or revoked" in gone.text
    with site.ws.session() as s:
        row, secret2 = share.create_link(s, "dashboard", days=1)
        row.expires_at = row.created_at - timedelta(seconds=1)
        s.commit()
    assert anon.get(f"/share/{secret2}").status_code == 404


def test_language_follows_cookie_then_accept_language(site: Site) -> None:
    fr = site.client("admin", lang="fr")
    assert "Tableau des actions" in fr.get("/actions").text
    en = site.client("admin", lang="en")
    assert "Action board" in en.get("/actions").text
    c = site.client()
    c.cookies.clear()
    assert "Se connecter" in c.get("/login").text
    assert "Log in" in c.get("/login", headers={"accept-language": "en-GB,en;q=0.8"}).text
    switched = c.get("/lang/en?next=/login")
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert 'lang="en"' in c.get("/login").text


def test_errors_are_pages_not_json(site: Site) -> None:
    c = site.client("admin")
    r = c.get("/retros/999")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html") and "No retro with id 999." in r.text
    assert c.get("/leads/NOPE").status_code == 404
    token = csrf_of(c.get("/actions").text)
    bad = c.post("/actions", data={"title": "x", "owner": "admin", "due_date": "2030-01-01", "kpi_key": "ttf_hours", "target": "lots",
                                  "csrf_token": token}, headers={"referer": "http://testserver/actions"})
    assert bad.status_code == 303 and bad.headers["location"] == "/actions"
    assert "target: &#39;lots&#39; is not a number." in c.get("/actions").text


def test_pages_send_security_headers_and_vendored_htmx(site: Site) -> None:
    c = site.client("admin")
    r = c.get("/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and r.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/static/vendor/htmx.min.js"' in r.text and "http://" not in r.text.replace("http://testserver", "")
    js = c.get("/static/vendor/htmx.min.js")
    assert js.status_code == 200 and "htmx" in js.text[:2000]
    assert c.get("/static/vendor/htmx.LICENSE").status_code == 200


def test_every_page_renders_on_an_empty_workspace(site: Site) -> None:
    c = site.client("admin")
    for path in ("/", "/?view=cmo", "/?view=sales", "/cycles", "/retros", "/actions", "/experiments", "/learnings",
                 "/playbook", "/playbook?q=cadence", "/customers", "/data", "/shares"):
        r = c.get(path)
        assert r.status_code == 200, path
        assert "Traceback" not in r.text


def test_logout_ends_the_session(site: Site) -> None:
    c = site.client("admin")
    token = csrf_of(c.get("/").text)
    assert c.post("/logout", data={"csrf_token": token}).status_code == 303
    assert c.get("/").status_code == 303
