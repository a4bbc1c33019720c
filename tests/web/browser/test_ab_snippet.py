"""The landing-page snippet in a real browser: variant applied, exposure and conversion stored.

A tiny landing page is served on one port of 127.0.0.1 and the Levier API on another (so the
snippet's calls are cross-origin, as in production); Debian's Chromium runs headless.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from levier.analysis.experiments import assign_variant
from levier.analysis.experiments.protocol import Arm, Change, Protocol, ProtocolStore, WebSettings

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
KEY = "landing-hero"
NEW_HEADLINE = "Get your audit in 5 minutes"

pytestmark = [
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed (scripts/test-setup.sh)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="{api}/api/v1/experiments/snippet.js" data-experiment="{key}" data-unit-id="{unit}"></script>
</head><body>
<h1>Original headline</h1>
<form action="/thanks" method="get">
  <input name="email" value="a@b.example" required>
  <div id="phone-row"><input name="phone" required></div>
  <button id="send" type="submit">Send</button>
</form></body></html>"""


def _landing(api: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            unit = self.path.split("unit=")[-1] if "unit=" in self.path else ""
            body = (PAGE.format(api=api, key=KEY, unit=unit) if self.path.startswith("/landing")
                    else "<!doctype html><p>Thanks</p>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def servers(workspace) -> Iterator[tuple[Any, str, str]]:  # noqa: ANN001
    import uvicorn

    from levier.web.app import create_app

    api_port = _free_port()
    api = f"http://127.0.0.1:{api_port}"
    landing, origin = _landing(api)
    changes = [Change(selector="h1", action="text", value=NEW_HEADLINE),
               Change(selector="#send", action="css", name="background-color", value="rgb(228, 87, 46)"),
               Change(selector="#phone-row", action="hide")]
    ProtocolStore(workspace.path).save(Protocol(
        key=KEY, unit="visitor", arms=[Arm(name="control"), Arm(name="treatment", changes=changes)],
        web=WebSettings(enabled=True, origins=[origin])))
    app = create_app(workspace.path)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API did not start"
    try:
        yield app, api, origin
    finally:
        server.should_exit = True
        thread.join(10)
        landing.shutdown()
        app.state.workspace.close()


def _events(app: Any) -> list[tuple[str, str, str]]:
    live = getattr(app.state, "live_experiments", None)
    if live is None:
        return []
    with live._facts:  # the API threads share this DuckDB connection
        w = app.state.workspace.facts.raw("web_events")
        rows = w.select("type", "anonymous_id", "variant").execute()
    return sorted(map(tuple, rows.to_numpy().tolist()))


def _wait(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_snippet_applies_the_treatment_and_posts_exposure_and_conversion(servers) -> None:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    app, _api, origin = servers
    units = {v: next(f"visitor-{i}" for i in range(200) if assign_variant(KEY, f"visitor-{i}", ["control", "treatment"]) == v)
             for v in ("treatment", "control")}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{origin}/landing?unit={units['treatment']}")
            page.wait_for_function("document.querySelector('h1').textContent !== 'Original headline'", timeout=15000)
            assert page.text_content("h1") == NEW_HEADLINE
            assert page.eval_on_selector("#send", "e => getComputedStyle(e).backgroundColor") == "rgb(228, 87, 46)"
            assert not page.is_visible("#phone-row")
            assert page.eval_on_selector("[name=phone]", "e => e.disabled") is True
            assert page.evaluate("k => window.levierAB[k].variant", KEY) == "treatment"
            treated = f"{KEY}/treatment"
            assert _wait(lambda: ("exposure", units["treatment"], treated) in _events(app))
            page.click("#send")  # the hidden required phone field must not block the submission
            page.wait_for_url("**/thanks**", timeout=15000)
            assert _wait(lambda: ("conversion", units["treatment"], treated) in _events(app))

            control = browser.new_page()
            control.goto(f"{origin}/landing?unit={units['control']}")
            assert _wait(lambda: ("exposure", units["control"], f"{KEY}/control") in _events(app))
            assert control.text_content("h1") == "Original headline" and control.is_visible("#phone-row")
        finally:
            browser.close()
    assert _events(app) == sorted([("conversion", units["treatment"], treated), ("exposure", units["control"], f"{KEY}/control"),
                                   ("exposure", units["treatment"], treated)])
    with app.state.live_experiments._facts:
        a = app.state.workspace.facts.raw("assignments").execute()
    assert dict(zip(a["unit_id"], a["variant"], strict=True)) == {units["treatment"]: "treatment", units["control"]: "control"}
