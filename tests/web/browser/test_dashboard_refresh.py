"""In Chromium: a dashboard whose figures are being computed shows so, then updates itself (HTMX) when they are stored (decision 0230)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.web.browser.conftest import PASSWORD, login, need_chromium, served

from levier.web import figures, pages_cache

pytestmark = [pytest.mark.xdist_group("browser")]


@pytest.fixture
def gated_server(workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, threading.Event]]:  # noqa: ANN001
    """A server whose warmer waits for the test's go before computing the figures of a one-lead workspace."""
    from levier.loop.services import users
    from levier.web.app import create_app

    need_chromium()
    with workspace.session() as s:
        users.create_user(s, "admin", role="admin", password=PASSWORD, name="Admin")
        s.commit()
    yesterday = (datetime.now() - timedelta(days=1)).replace(microsecond=0)
    workspace.facts.con.raw_sql(f"INSERT INTO leads (lead_id, created_at, owner, _row_id, _batch) VALUES ('L1', TIMESTAMP '{yesterday}', 'rep-a', 1, 1)")
    pages_cache.clear_cache()
    monkeypatch.setattr(figures, "WAIT_SECONDS", 0.0)
    app = create_app(workspace.path)
    gate = threading.Event()
    runner = app.state.warmer.runner
    app.state.warmer.runner = lambda job: gate.wait(60) and runner(job)
    with served(app) as url:
        try:
            yield url, gate
        finally:
            gate.set()  # before the server stops: its warmer may be waiting for it
    pages_cache.clear_cache()


def test_a_dashboard_being_computed_updates_itself(chromium: Any, gated_server: tuple[str, threading.Event]) -> None:
    url, gate = gated_server
    context = chromium.new_context(locale="fr-FR", base_url=url)
    try:
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        login(pg, "admin", "/?view=sales")
        notice = pg.locator("#dashboard-body .notice")
        assert "cette page se met à jour dès qu'ils sont prêts" in notice.inner_text()
        assert notice.get_attribute("role") == "status" and pg.locator("#rep option").count() == 0
        gate.set()
        pg.locator("#rep option", has_text="rep-a").wait_for(state="attached")  # the 5 s HTMX refresh, no reload
        assert pg.locator("#dashboard-body .notice").count() == 0 and pg.url.endswith("/?view=sales")
    finally:
        context.close()
