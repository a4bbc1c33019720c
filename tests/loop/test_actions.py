"""Actions: one owner, overdue flag, verification met / missed / not measurable from the facts."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from levier.errors import OptionError, RuleError
from levier.loop.services import actions, kpi, retros, users, webhooks

from .conftest import insert_january

JAN = {"window_start": "2026-01-01", "window_end": "2026-01-31", "due_date": "2026-01-31"}
AFTER = date(2026, 2, 10)


@pytest.fixture
def ws(workspace):  # noqa: ANN001, ANN201
    """The January 2026 facts of :func:`insert_january` and two users."""
    insert_january(workspace)
    with workspace.session() as s:
        users.create_user(s, "ana", role="editor")
        users.create_user(s, "bo")
        s.commit()
    return workspace


def test_exactly_one_owner(ws) -> None:  # noqa: ANN001
    with ws.session() as s:
        for owner in (None, "", ["ana", "bo"], "ana, bo", "ana and bo"):
            with pytest.raises(RuleError, match="exactly one owner"):
                actions.create_action(s, "Call faster", owner=owner, kpi_key="ttf_hours", target=2, **JAN)
        with pytest.raises(OptionError, match="no user 'zed'"):
            actions.create_action(s, "Call faster", owner="zed", kpi_key="ttf_hours", target=2, **JAN)
        a = actions.create_action(s, "Call faster", owner=["ana"], kpi_key="ttf_hours", target=2, **JAN)
        assert actions.action_dict(s, a)["owner"] == "ana"
        with pytest.raises(RuleError):
            actions.update_action(s, a.id, owner=["ana", "bo"])
        assert actions.update_action(s, a.id, owner="bo").owner_id == users.get_user(s, "bo").id


def test_kpi_must_come_from_the_catalogue(ws) -> None:  # noqa: ANN001
    with ws.session() as s, pytest.raises(OptionError, match="not in the KPI catalogue"):
        actions.create_action(s, "x", owner="ana", kpi_key="spearman", target=1, **JAN)  # not measurable over a period
    with ws.session() as s, pytest.raises(OptionError, match="not in the KPI catalogue"):
        actions.create_action(s, "x", owner="ana", kpi_key="vanity_likes", target=1, **JAN)


def test_overdue_flag_and_status(ws) -> None:  # noqa: ANN001
    with ws.session() as s:
        a = actions.create_action(s, "x", owner="ana", kpi_key="conversion_rate", target=0.6, **JAN)
        assert actions.is_overdue(a, date(2026, 1, 31)) is False
        assert actions.is_overdue(a, date(2026, 2, 1)) is True
        assert [x.id for x in actions.list_actions(s, overdue=True, today=date(2026, 2, 1))] == [a.id]
        actions.set_status(s, a.id, "done", at=datetime(2026, 1, 30, 12))
        assert actions.is_overdue(a, date(2026, 2, 1)) is False
        with pytest.raises(OptionError):
            actions.set_status(s, a.id, "finished")


def _verify(ws, **kw):  # noqa: ANN001, ANN003, ANN202
    with ws.session() as s:
        a = actions.create_action(s, "x", owner="ana", **{**JAN, **kw})
        actions.verify_action(s, ws, a.id, today=AFTER)
        s.commit()
        return a


def test_verification_met(ws) -> None:  # noqa: ANN001
    a = _verify(ws, kpi_key="conversion_rate", baseline=0.4, target=0.5)
    assert a.verification == "met"
    assert a.measured_value == pytest.approx(3 / 6)
    assert a.verification_detail["source"] == "catalogue"
    assert a.verification_detail["window"] == ["2026-01-01T00:00:00", "2026-02-01T00:00:00"]


def test_verification_missed_in_a_segment(ws) -> None:  # noqa: ANN001
    a = _verify(ws, kpi_key="conversion_rate", baseline=0.4, target=0.6, segment={"channel": "inbound"})
    assert (a.verification, a.measured_value) == ("missed", 0.5)


def test_verification_decreasing_kpi(ws) -> None:  # noqa: ANN001
    a = _verify(ws, kpi_key="ttf_hours", baseline=5, target=2.5)
    assert (a.verification, a.measured_value) == ("met", 2.5)
    b = _verify(ws, kpi_key="complaint_rate", baseline=0.3, target=0.1)
    assert (b.verification, b.measured_value) == ("missed", pytest.approx(1 / 4))


def test_verification_not_measurable_without_data(ws) -> None:  # noqa: ANN001
    a = _verify(ws, kpi_key="conversion_rate", target=0.5, window_start="2025-12-01", window_end="2025-12-31", due_date="2025-12-31")
    assert (a.verification, a.measured_value) == ("not_measurable", None)


def test_verification_waits_for_the_window_to_end(ws) -> None:  # noqa: ANN001
    with ws.session() as s:
        a = actions.create_action(s, "x", owner="ana", kpi_key="conversion_rate", target=0.6, **JAN)
        with pytest.raises(RuleError, match="2026-02-01"):
            actions.verify_action(s, ws, a.id, today=date(2026, 1, 31))
        assert actions.verify_due(s, ws, today=date(2026, 1, 31)) == []
        assert [x.id for x in actions.verify_due(s, ws, today=AFTER)] == [a.id]


def test_verification_uses_the_catalogue_when_installed(ws, monkeypatch) -> None:  # noqa: ANN001
    calls = []

    class FakeCatalogue:
        KPIS = {"conversion_rate": "Leads converted / leads"}

        @staticmethod
        def compute_kpi(ws, key, start, end, segment=None):  # noqa: ANN001, ANN205
            calls.append((key, start, end, segment))
            return {"value": 0.42, "n": 50}

    monkeypatch.setattr(kpi, "_catalogue", lambda: FakeCatalogue)
    a = _verify(ws, kpi_key="conversion_rate", target=0.4, segment={"channel": "inbound"})
    assert (a.verification, a.measured_value, a.verification_detail["source"]) == ("met", 0.42, "catalogue")
    assert calls == [("conversion_rate", datetime(2026, 1, 1), datetime(2026, 2, 1), {"channel": "inbound"})]


def test_verification_equals_the_catalogue_figure(ws) -> None:  # noqa: ANN001
    from levier.analysis.kpis import compute_kpi

    a = _verify(ws, kpi_key="ttf_hours", target=3, segment={"channel": "inbound"})
    direct = compute_kpi(ws, "ttf_hours", datetime(2026, 1, 1), datetime(2026, 2, 1), {"channel": "inbound"})
    assert a.measured_value == direct.value == 2.0


def test_created_and_due_webhook_events_are_queued_once(ws) -> None:  # noqa: ANN001
    with ws.session() as s:
        webhooks.create_webhook(s, "ops", "http://127.0.0.1:9/hook", ["*"])
        a = actions.create_action(s, "x", owner="ana", kpi_key="conversion_rate", target=0.6, **JAN)
        assert [d.event for d in webhooks.list_deliveries(s)] == ["action.created"]
        assert actions.scan_due(s, today=date(2026, 1, 29)) == {"due_soon": [a.id], "overdue": []}
        assert actions.scan_due(s, today=date(2026, 1, 30)) == {"due_soon": [], "overdue": []}
        assert actions.scan_due(s, today=date(2026, 2, 3)) == {"due_soon": [], "overdue": [a.id]}
        assert actions.scan_due(s, today=date(2026, 2, 4)) == {"due_soon": [], "overdue": []}
        events = sorted(d.event for d in webhooks.list_deliveries(s))
        assert events == ["action.created", "action.due_soon", "action.overdue"]
        payload = webhooks.list_deliveries(s, status="pending")[0].payload
        assert payload["data"]["owner"] == "ana"


def test_previous_actions_are_reviewed_first(ws) -> None:  # noqa: ANN001
    with ws.session() as s:
        r1 = retros.create_retro(s, "monthly_audit_review", "January", "lead → opportunity", held_at=datetime(2026, 1, 3))
        a = actions.create_action(s, "Call within 2 h", owner="ana", kpi_key="conversion_rate", baseline=0.4, target=0.5, retro_id=r1.id, **JAN)
        r2 = retros.create_retro(s, "monthly_audit_review", "February", "lead → opportunity", held_at=datetime(2026, 2, 10))
        assert (r2.previous_id, r2.status) == (r1.id, "review")
        for call in (
            lambda: retros.add_observation(s, r2.id, "Reps are slow", source="field"),
            lambda: actions.create_action(s, "y", owner="ana", kpi_key="ttf_hours", target=1, retro_id=r2.id, **JAN),
            lambda: retros.add_swot(s, r2.id, "weakness", "no SLA"),
        ):
            with pytest.raises(RuleError, match="review of the previous retro"):
                call()
        detail = retros.retro_detail(s, r2.id)
        assert [x["id"] for x in detail["previous_actions"]] == [a.id]
        assert detail["previous_actions"][0]["review"] is None
        reviews = retros.review_previous_actions(s, r2.id, ws, today=AFTER, comments={a.id: "on track"})
        assert [(r.action_id, r.verification, r.comment) for r in reviews] == [(a.id, "met", "on track")]
        assert r2.status == "open"
        assert retros.retro_detail(s, r2.id)["previous_actions"][0]["review"]["verification"] == "met"
        retros.add_observation(s, r2.id, "Reps are slow", source="field")
        r3 = retros.create_retro(s, "weekly_micro_retro", "W8", "form", held_at=datetime(2026, 2, 20))
        assert r3.status == "open"  # the previous retro (February) has no action
