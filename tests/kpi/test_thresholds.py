"""Stored KPI thresholds: validation with clear errors, used by the threshold alerts (grouping, cool-down, segment)."""

from __future__ import annotations

import json
from datetime import datetime as dt
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session
from tests.web.conftest import api  # noqa: F401  (fixture)

from levier.cli import app
from levier.data._frames import insert_frames
from levier.errors import NotFoundError, OptionError
from levier.kpi import alerts, registry, thresholds
from levier.workspace import Workspace

from .test_alerts import busy  # noqa: F401  (fixture)

NOW = dt(2026, 10, 12, 9)


def test_validation_errors_are_clear(s: Session) -> None:
    with pytest.raises(OptionError, match="lower bound, an upper bound or both"):
        thresholds.set_threshold(s, "conversion_rate")
    with pytest.raises(OptionError, match="lower bound 0.5 must be below the upper bound 0.2"):
        thresholds.set_threshold(s, "conversion_rate", lower=0.5, upper=0.2)
    with pytest.raises(OptionError, match="upper: 'lots' is not a number"):
        thresholds.set_threshold(s, "conversion_rate", upper="lots")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="Unknown KPI 'nope'"):
        thresholds.set_threshold(s, "nope", lower=1)
    with pytest.raises(OptionError, match="unknown lead column 'colour'"):
        thresholds.set_threshold(s, "conversion_rate", lower=0.1, segment={"colour": "red"})
    with pytest.raises(OptionError, match="'spend' cannot be split by a lead segment"):
        thresholds.set_threshold(s, "spend", upper=1e6, segment={"channel": "inbound"})
    with pytest.raises(OptionError, match="not measured over a period alone"):
        thresholds.set_threshold(s, "funnel_step_rate", lower=0.1)
    a = thresholds.set_threshold(s, "conversion_rate", lower=0.1)
    b = thresholds.set_threshold(s, "conversion_rate", lower=0.05, upper=0.4, note="season")  # same segment: replaced
    c = thresholds.set_threshold(s, "conversion_rate", lower=0.2, segment={"channel": "inbound"})
    assert a.id == b.id != c.id
    assert [t.to_dict() for t in thresholds.list_thresholds(s, "conversion_rate")] == [
        {"id": b.id, "kpi_key": "conversion_rate", "lower": 0.05, "upper": 0.4, "segment": None, "note": "season"},
        {"id": c.id, "kpi_key": "conversion_rate", "lower": 0.2, "upper": None, "segment": {"channel": "inbound"}, "note": ""}]
    thresholds.clear_threshold(s, "conversion_rate", {"channel": "inbound"})
    with pytest.raises(NotFoundError, match="no threshold for channel=inbound"):
        thresholds.clear_threshold(s, "conversion_rate", {"channel": "inbound"})
    assert b.breached(0.04) == "below" and b.breached(0.41) == "above" and b.breached(0.2) is None and b.breached(None) is None


def test_stored_threshold_fires_once_per_cool_down(busy: Workspace, s: Session) -> None:  # noqa: F811
    registry.define_kpi(s, "touches_out", "count(touches, direction == 'out')", owner="bo", frequency="daily")
    th = thresholds.set_threshold(s, "touches_out", upper=40)  # the last day (2026-10-11, a Sunday) is a 4× burst
    seg = thresholds.set_threshold(s, "touches_out", lower=1000, segment={"owner": "rep1"})
    res = alerts.check(busy, s, now=NOW, inaction=False)  # no key given: KPIs with a threshold are checked
    got = {a.subject: a for a in alerts.list_alerts(s, kind="threshold")}
    assert set(got) == {f"2026-10-11:threshold {th.id}", f"2026-10-11:threshold {seg.id}:owner=rep1"}
    day = got[f"2026-10-11:threshold {th.id}"]
    assert day.detail["side"] == "above" and day.detail["value"] > 40 and "above its upper threshold (40)" in day.message
    per_rep = got[f"2026-10-11:threshold {seg.id}:owner=rep1"]
    assert per_rep.detail["side"] == "below" and per_rep.detail["value"] == day.detail["value"]  # every lead is rep1's
    assert "touches_out [owner=rep1]" in per_rep.message
    assert {a.id for a in got.values()} <= set(res.created)  # (the burst is also an anomaly)
    again = alerts.check(busy, s, now=NOW + timedelta(hours=2), inaction=False)
    assert again.created == () and sorted(again.bumped) == sorted(res.created)


LEADS = [{"lead_id": "L1", "created_at": dt(2026, 9, 1), "channel": "inbound", "company_size": "smb"},
         {"lead_id": "L2", "created_at": dt(2026, 9, 2), "channel": "partner", "company_size": "smb"}]


def test_set_threshold_cli_and_api(workspace: Workspace, runner) -> None:  # noqa: ANN001
    w = ["-w", str(workspace.path)]
    insert_frames(workspace.facts, {"leads": LEADS})
    workspace.close()
    typo = runner.invoke(app, ["kpi", "set-threshold", "conversion_rate", "--lower", "0.1", "--segment", "channel=Inbound", *w])
    assert typo.exit_code == 1 and "no lead has channel = 'Inbound'" in typo.output and "inbound, partner" in typo.output
    r = runner.invoke(app, ["kpi", "set-threshold", "conversion_rate", "--lower", "0.1", "--segment", "channel=inbound", "--json", *w])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["segment"] == {"channel": "inbound"}
    bad = runner.invoke(app, ["kpi", "set-threshold", "conversion_rate", "--lower", "0.3", "--upper", "0.1", *w])
    assert bad.exit_code == 1 and "must be below the upper bound" in bad.output
    r = runner.invoke(app, ["kpi", "set-threshold", "--list", "--json", *w])
    assert [t["lower"] for t in json.loads(r.stdout)] == [0.1]
    r = runner.invoke(app, ["kpi", "set-threshold", "conversion_rate", "--clear", "--segment", "channel=inbound", "--json", *w])
    assert r.exit_code == 0 and json.loads(runner.invoke(app, ["kpi", "set-threshold", "--list", "--json", *w]).stdout) == []


def test_threshold_api(api) -> None:  # noqa: ANN001, F811
    insert_frames(api.ws.facts, {"leads": LEADS})
    body = {"upper": 0.3, "segment": {"channel": "inbound"}}
    miss = api.call("POST", "/kpi/conversion_rate/thresholds", "editor", json={"upper": 0.3, "segment": {"channel": "webinar"}})
    assert miss.status_code == 422 and "no lead has channel = 'webinar'" in miss.json()["error"]["message"]
    assert api.call("POST", "/kpi/conversion_rate/thresholds", "viewer", json=body).status_code == 403
    r = api.call("POST", "/kpi/conversion_rate/thresholds", "editor", json=body)
    assert r.status_code == 201 and r.json()["upper"] == 0.3
    bad = api.call("POST", "/kpi/conversion_rate/thresholds", "editor", json={"note": "x"})
    assert bad.status_code == 422 and "lower bound, an upper bound or both" in bad.json()["error"]["message"]
    assert [t["upper"] for t in api.call("GET", "/kpi/conversion_rate/thresholds", "viewer").json()] == [0.3]
    assert api.call("DELETE", "/kpi/conversion_rate/thresholds?segment=channel=inbound", "editor").status_code == 204
    assert api.call("GET", "/kpi/conversion_rate/thresholds", "viewer").json() == []


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("with_leads", [True, False], ids=["leads", "empty"])
def test_threshold_on_a_value_no_lead_has_cli(workspace: Workspace, runner, lang: str, with_leads: bool) -> None:  # noqa: ANN001
    """A misspelt segment value is refused in the user's language with the values present ("—" on an empty workspace)."""
    from levier.i18n import use_language

    if with_leads:
        insert_frames(workspace.facts, {"leads": LEADS})
    workspace.close()
    with use_language(lang):
        r = runner.invoke(app, ["kpi", "set-threshold", "conversion_rate", "--lower", "0.1", "--segment", "channel=Inbound",
                                "-w", str(workspace.path)])
        listed = runner.invoke(app, ["kpi", "set-threshold", "--list", "--json", "-w", str(workspace.path)])
    values = "inbound, partner" if with_leads else "—"
    want = {"fr": ("Erreur : segment : aucun lead n'a channel = 'Inbound', ce seuil ne se déclencherait donc jamais.\n"
                   f"Valeurs de channel : {values}.\n"),
            "en": ("Error: segment: no lead has channel = 'Inbound', so this threshold would never fire.\n"
                   f"Values of channel: {values}.\n")}[lang]
    assert r.exit_code == 1 and r.output == want
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []  # nothing stored
