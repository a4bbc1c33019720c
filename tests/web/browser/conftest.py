"""Browser fixtures for the web-app pages: a seeded demo workspace, a uvicorn server on a free
loopback port, and Debian's Chromium driven by Playwright (never a downloaded browser).

In CI (``CI=true``) a missing /usr/bin/chromium fails the tests instead of skipping them;
scripts/test-setup.sh installs it. Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PASSWORD = "levier-demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("Debian chromium is missing at /usr/bin/chromium: run scripts/test-setup.sh (CI must run the browser tests).")
        pytest.skip("Debian chromium not installed (run scripts/test-setup.sh)")


@dataclass
class Demo:
    path: Path
    lead_id: str
    account_id: str
    period_end: Any


@pytest.fixture(scope="session")
def seeded_demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """A small demo workspace (3,000 leads, seed 7) with every fact table and the seeded loop."""
    need_chromium()
    from levier.data.demo import generate
    from levier.data.schema import TABLES
    from levier.loop.seed import seed_demo
    from levier.workspace import create_workspace

    base = tmp_path_factory.mktemp("web_demo")
    summary = generate(base / "data", leads=3000, seed=7)
    ws = create_workspace(base / "ws", timezone="UTC")
    for name, path in summary.files.items():
        if str(path).endswith(".parquet"):
            cols = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
            src = path.as_posix().replace("'", "''")
            ws.facts.con.raw_sql(f"INSERT INTO {name} SELECT {cols}, CAST(row_number() OVER () AS BIGINT), CAST(1 AS BIGINT) FROM read_parquet('{src}')")
    seed_demo(ws, password=PASSWORD)
    t = ws.table("touches")
    busy = t.group_by("lead_id").agg(n=t.count()).order_by("lead_id").limit(1).execute()
    lead_id = str(busy["lead_id"][0])
    leads = ws.table("leads")
    account = leads.filter(leads.lead_id == lead_id).select("account_id").execute()["account_id"][0]
    with ws.session() as s:
        from levier.loop.services import cycles

        end = cycles.list_cycles(s)[0].period_end
    ws.close()
    return Demo(base / "ws", lead_id, str(account), end)


@pytest.fixture(scope="session")
def app_url(seeded_demo: Demo) -> Iterator[str]:
    """The web app on the seeded demo, served by uvicorn on 127.0.0.1 and a free port."""
    from levier.web.app import create_app

    with served(create_app(seeded_demo.path, warm=True)) as url:  # as `levier serve`: the figures warmed in the background
        yield url


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on 127.0.0.1 and a free port, stopped on exit."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, app_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh French browser context (no cookies); a screenshot is kept after each test."""
    context = chromium.new_context(locale="fr-FR", base_url=app_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


def login(pg: Any, user: str = "admin", next_path: str = "/") -> None:
    pg.goto(f"/login?next={next_path}")
    pg.fill("#username", user)
    pg.fill("#password", PASSWORD)
    with pg.expect_navigation():
        pg.click("form[action='/login'] button[type=submit]")
