"""Analytics pages: experiment protocol and results, attribution, funnel, KPI registry (fr/en, roles)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.analysis.experiments.test_analysis import KEY
from tests.web.test_pages import PASSWORD, Site, csrf_of

from levier.analysis.experiments import Protocol, ProtocolStore
from levier.analysis.framing import default_period
from levier.analysis.funnel import funnel
from levier.kpi.registry import list_targets
from levier.loop.services import users
from levier.report.fmt import Formatter
from levier.web.app import create_app
from levier.workspace import create_workspace

demo = pytest.importorskip("levier.data.demo")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from levier.data.ingest import import_file

    base: Path = tmp_path_factory.mktemp("analytics")
    summary = demo.generate(base / "demo", leads=3000, seed=11)
    ws = create_workspace(base / "ws")
    for name, path in summary.files.items():
        import_file(ws, path, name)
    ProtocolStore(ws.path).save(Protocol(key=KEY, title="Subject line <b>test</b>", hypothesis="A shorter subject line lifts conversion",
                                         dimensions=[]))
    with ws.session() as s:
        for role in ("admin", "editor", "viewer"):
            users.create_user(s, role, role=role, password=PASSWORD, name=role.title())
        s.commit()
    ws.close()
    app = create_app(base / "ws")
    with TestClient(app):
        yield Site(app, app.state.workspace)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_logged_out_is_sent_to_login(site: Site) -> None:
    anon = site.client()
    for path in ("/attribution", "/funnel", "/kpis", "/kpis/cpl", f"/experiments/{KEY}/protocol", f"/experiments/{KEY}/results"):
        r = anon.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path


def test_protocol_page_in_both_languages_escapes_user_text(site: Site) -> None:
    en = site.client("viewer", "en").get(f"/experiments/{KEY}/protocol")
    assert en.status_code == 200
    assert "Experiment protocol" in en.text and "A shorter subject line lifts conversion" in en.text
    assert "<b>test</b>" not in en.text and "&lt;b&gt;test&lt;/b&gt;" in en.text
    fr = site.client("viewer", "fr").get(f"/experiments/{KEY}/protocol")
    assert fr.status_code == 200 and "Protocole" in fr.text
    missing = site.client("viewer").get("/experiments/nope/protocol")
    assert missing.status_code == 422 and "No protocol for experiment &#39;nope&#39;" in missing.text


def test_results_page_shows_the_cli_readout_and_decision(site: Site) -> None:
    from levier.web.routes.pages.analytics import experiment_readout

    result, decision = experiment_readout(site.ws, KEY, "en")
    primary = result.effects[0]
    r = site.client("viewer", "en").get(f"/experiments/{KEY}/results")
    assert r.status_code == 200 and "<svg" in r.text
    assert decision.action in ("ship", "iterate", "stop")
    text = _text(r.text)
    assert f"Decision: {decision.action}" in text
    for _code, message in decision.reasons:
        assert message.split(" ")[0] in text
    ctrl = result.srm.observed[0]
    assert f"control {int(ctrl):,}" in text  # SRM line: units per arm
    assert Formatter("en").pct(primary.estimate, 1) in text and primary.metric in text
    fr = site.client("viewer", "fr").get(f"/experiments/{KEY}/results")
    assert fr.status_code == 200 and "Décision" in fr.text and "<svg" in fr.text


def test_funnel_page_matches_the_engine_on_the_default_period(site: Site) -> None:
    latest = site.ws.table("leads").created_at.max().execute().to_pydatetime()
    p = default_period(latest)
    steps = funnel(site.ws, start=p.start_dt, end=p.end_dt).overall.steps
    en = site.client("viewer", "en").get("/funnel")
    assert en.status_code == 200 and f"Funnel — {p.label}" in en.text and "<svg" in en.text
    assert '<div class="table-wrap"><table>' in en.text and '<th scope="col">' in en.text and 'class="num"' in en.text  # _macros.table_block
    text = _text(en.text)
    for st in steps:
        assert f"{st.stage} {st.reached:,}" in text
    fr = site.client("viewer", "fr").get("/funnel")
    assert fr.status_code == 200 and "Entonnoir" in fr.text
    fr_text = _text(fr.text)
    assert f"{steps[0].stage} {steps[0].reached:,}".replace(",", "\u202f") in fr_text or f"{steps[0].stage} {steps[0].reached}" in fr_text


def test_attribution_page_sides_models_and_values(site: Site) -> None:
    from levier.analysis.attribution import JourneyOptions, attribute

    latest = site.ws.table("leads").created_at.max().execute().to_pydatetime()
    p = default_period(latest)
    cmp = attribute(site.ws, ("last", "markov"), options=JourneyOptions(start=p.start_dt, end=p.end_dt))
    r = site.client("viewer", "en").get(f"/attribution?period={p.label}&model=last,markov")
    assert r.status_code == 200 and "<svg" in r.text and "Channel value and ROI" in r.text
    text = _text(r.text)
    d = cmp.to_dict()
    assert f"{int(d['source']['journeys']):,} journeys" in text
    last = next(m for m in d["models"] if m["label"] == d["models"][0]["label"])
    top = max(last["channels"], key=lambda c: c["conversions"])
    assert f"{top['conversions']:,.2f}" in text
    fr = site.client("viewer", "fr").get(f"/attribution?period={p.label}&model=last,markov")
    assert fr.status_code == 200 and "Valeur et ROI par canal" in fr.text
    bad = site.client("viewer", "en").get("/attribution?model=nope")
    assert bad.status_code == 422 and "Unknown attribution model" in bad.text


def test_kpi_registry_and_detail(site: Site) -> None:
    en = site.client("viewer", "en")
    page = en.get("/kpis")
    assert page.status_code == 200 and 'href="/kpis/cpl"' in page.text and "KPI registry" in page.text
    fr = site.client("viewer", "fr").get("/kpis")
    assert fr.status_code == 200 and "Registre des KPI" in fr.text
    import sqlalchemy as sa

    from levier.kpi.models import KpiPoint
    from levier.kpi.timeseries import stored

    def points() -> int:
        with site.ws.session() as s:
            return s.scalar(sa.select(sa.func.count()).select_from(KpiPoint).where(KpiPoint.series_key.startswith("conversion_rate|")))

    before = points()
    detail = en.get("/kpis/conversion_rate")
    assert detail.status_code == 200 and points() == before  # a GET never computes nor writes the series
    assert "Set a SMART target" not in detail.text and "Refresh the series" not in detail.text  # viewers read only
    if before == 0:
        assert "This series has not been computed yet." in detail.text
    editor = site.client("editor", "en")
    page = editor.get("/kpis/conversion_rate")
    assert editor.post("/kpis/conversion_rate/refresh", data={"grain": "week"}).status_code == 403  # no CSRF token
    token_v = csrf_of(en.get("/kpis").text)
    assert en.post("/kpis/conversion_rate/refresh", data={"grain": "week", "csrf_token": token_v}).status_code == 403
    done = editor.post("/kpis/conversion_rate/refresh", data={"grain": "week", "csrf_token": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == "/kpis/conversion_rate?grain=week" and points() > before
    detail = en.get("/kpis/conversion_rate")
    assert "<svg" in detail.text and "Series refreshed on" in detail.text
    with site.ws.session() as s:
        values = [v for v in stored(site.ws, s, "conversion_rate", "week").values() if v is not None]
    assert values and f"Latest value {Formatter('en').num(values[-1])}" in _text(detail.text)
    assert "Fixer une cible SMART" in site.client("editor", "fr").get("/kpis/conversion_rate").text
    assert en.get("/kpis/nope").status_code == 404


def test_editor_sets_a_target_with_csrf(site: Site) -> None:
    editor = site.client("editor", "en")
    page = editor.get("/kpis/conversion_rate")
    assert "Set a SMART target" in page.text
    form = {"value": "0,25", "deadline": "2030-06-30", "baseline": "0.1"}
    assert editor.post("/kpis/conversion_rate/target", data=form).status_code == 403
    viewer = site.client("viewer", "en")
    token_v = csrf_of(viewer.get("/kpis").text)
    assert viewer.post("/kpis/conversion_rate/target", data={**form, "csrf_token": token_v}).status_code == 403
    ok = editor.post("/kpis/conversion_rate/target", data={**form, "csrf_token": csrf_of(page.text)})
    assert ok.status_code == 303 and ok.headers["location"] == "/kpis/conversion_rate"
    with site.ws.session() as s:
        (t,) = list_targets(s, "conversion_rate")
        assert (t.value, t.deadline, t.baseline) == (0.25, date(2030, 6, 30), 0.1)
    after = editor.get("/kpis/conversion_rate")
    assert "Target set: 0.25 by 2030-06-30." in after.text
    listed = _text(editor.get("/kpis").text)
    assert "0.25" in listed and "open" in listed
    bad = editor.post("/kpis/conversion_rate/target", data={**form, "value": "lots", "csrf_token": csrf_of(page.text)},
                      headers={"referer": "http://testserver/kpis/conversion_rate"})
    assert bad.status_code == 303
    assert "value: &#39;lots&#39; is not a number." in editor.get("/kpis/conversion_rate").text


def test_alerts_page_lists_alerts_and_editors_change_their_status(site: Site) -> None:
    from datetime import datetime

    from levier.kpi.models import KpiAlert

    with site.ws.session() as s:
        row = KpiAlert(kind="threshold", kpi_key="conversion_rate", group_key="threshold|conversion_rate|t", subject="t",
                       severity="critical", message="Conversion rate 12% below the bound 15%", count=3,
                       first_at=datetime(2026, 10, 1), last_at=datetime(2026, 10, 8))
        s.add(row)
        s.commit()
        alert_id = row.id
    viewer = site.client("viewer", "en")
    page = viewer.get("/alerts")
    text = _text(page.text)
    assert page.status_code == 200 and "Conversion rate 12% below the bound 15%" in text and 'href="/kpis/conversion_rate"' in page.text
    assert "critical" in text and "3" in text and "Save" not in text  # viewers read only
    fr = _text(site.client("viewer", "fr").get("/alerts").text)
    odd = viewer.get("/alerts?status=nope")  # an unknown status falls back to the open alerts
    assert odd.status_code == 200 and "Conversion rate 12% below the bound 15%" in _text(odd.text)
    assert "Alertes" in fr and "critique" in fr and "seuil" in fr
    token_v = csrf_of(viewer.get("/kpis").text)
    assert viewer.post(f"/alerts/{alert_id}/status", data={"status": "resolved", "csrf_token": token_v}).status_code == 403
    editor = site.client("editor", "en")
    page = editor.get("/alerts")
    assert editor.post(f"/alerts/{alert_id}/status", data={"status": "resolved"}).status_code == 403  # no CSRF token
    done = editor.post(f"/alerts/{alert_id}/status", data={"status": "resolved", "csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    assert "Conversion rate 12%" not in _text(editor.get("/alerts").text)  # open alerts only by default
    assert "Conversion rate 12%" in _text(editor.get("/alerts?status=resolved").text)


def test_kpi_page_reads_the_stored_series_once_until_a_refresh(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored series (three facts queries) is cached; a refresh through any worker changes the key."""
    import levier.kpi.timeseries as ts

    calls: list[str] = []
    real = ts.stored

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(args[2]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ts, "stored", counting)
    key = "effective_contact_rate"
    editor = site.client("editor", "en")
    first = editor.get(f"/kpis/{key}")
    again = editor.get(f"/kpis/{key}")
    assert first.status_code == again.status_code == 200 and calls == [key]  # the second GET is served from the cache
    assert site.client("viewer", "en").get(f"/kpis/{key}?grain=month").status_code == 200 and calls == [key, key]  # another grain
    done = editor.post(f"/kpis/{key}/refresh", data={"grain": "week", "csrf_token": csrf_of(again.text)})
    assert done.status_code == 303
    after = editor.get(f"/kpis/{key}")
    assert calls == [key, key, key] and "Series refreshed on" in after.text  # the refresh moved the key: read afresh
    with site.ws.session() as s:
        values = [v for v in real(site.ws, s, key, "week").values() if v is not None]
    assert values and f"Latest value {Formatter('en').num(values[-1])}" in _text(after.text)
    editor.get(f"/kpis/{key}")
    assert len(calls) == 3 and "<svg" in after.text
