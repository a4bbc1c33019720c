"""The decision tree, rule by rule, with the time edges (DST, time zones, weekends, midnight, 48 h)."""

from __future__ import annotations

from datetime import datetime

import pytest
import yaml
from tests.policy.conftest import touches

from levier.errors import NotFoundError, OptionError
from levier.policy import default_rules_text
from levier.policy.rules import rules_from_dict


def _rules(**changes):  # noqa: ANN003, ANN202
    data = yaml.safe_load(default_rules_text())
    data.update(changes)
    return rules_from_dict(data)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_allow_inside_the_window(make_policy) -> None:  # noqa: ANN001
    d = make_policy().check("S1", "email", "2026-03-03T10:00:00")
    assert d.decision == "allow" and d.rules == () and d.next_allowed_at is None and d.segment == "smb-inbound"


def test_opt_out_stops_at_once_and_forever(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    assert p.check("O1", "email", "2026-03-10T11:59:59").allowed
    d = p.check("O1", "call", "2026-03-10T12:00:00")
    assert (d.decision, d.rules, d.next_allowed_at) == ("deny", ("opt_out",), None)


def test_unsubscribed_touch_is_an_opt_out(make_policy) -> None:  # noqa: ANN001
    p = make_policy(touches("S1", ["2026-03-03 09:00:00"], outcome="unsubscribed"))
    assert p.check("S1", "call", "2026-03-04T09:00:00").rules == ("opt_out",)


@pytest.mark.parametrize("lead,flag", [("V1", "vip"), ("L1", "litigation"), ("N1", "do_not_contact")])
def test_flags_escalate_to_a_manager_on_the_validated_channel(make_policy, lead, flag) -> None:  # noqa: ANN001
    d = make_policy().check(lead, "email", "2026-03-03T10:00:00")
    assert d.decision == "escalate" and d.rules == (f"escalation.{flag}",)
    assert d.escalate_to == "manager" and d.validated_channel == "call"


def test_opt_out_wins_over_escalation(make_policy) -> None:  # noqa: ANN001
    leads = [{"lead_id": "X", "created_at": "2026-03-01", "vip": True, "opted_out_at": "2026-03-02"}]
    d = make_policy(leads=leads).check("X", "email", "2026-03-03T10:00:00")
    assert d.rules == ("opt_out",)


def test_sending_hours_in_the_lead_local_time(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    # 07:59 UTC = 08:59 Paris (winter): wait for 09:00 Paris
    d = p.check("S1", "email", "2026-03-03T07:59:00")
    assert d.rules == ("window.hours",) and d.next_allowed_at == _at("2026-03-03T08:00:00")
    assert p.check("S1", "email", "2026-03-03T08:00:00").allowed
    assert p.check("S1", "email", "2026-03-03T15:59:59").allowed  # 16:59:59 Paris
    d = p.check("S1", "email", "2026-03-03T16:00:00")  # 17:00 Paris: closed
    assert d.rules == ("window.hours",) and d.next_allowed_at == _at("2026-03-04T08:00:00")


def test_new_york_and_tokyo_leads(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    # 2026-03-03 13:59 UTC = 08:59 in New York (EST, UTC-5)
    assert p.check("M1", "email", "2026-03-03T13:59:00").next_allowed_at == _at("2026-03-03T14:00:00")
    assert p.check("M1", "email", "2026-03-03T14:00:00").allowed
    # New York moves to summer time on 2026-03-08: 09:00 EDT = 13:00 UTC
    assert p.check("M1", "email", "2026-03-09T12:59:00").next_allowed_at == _at("2026-03-09T13:00:00")
    # Tokyo (UTC+9, no DST): 09:00 JST = 00:00 UTC
    assert p.check("E1", "call", "2026-03-04T00:00:00").allowed
    d = p.check("E1", "call", "2026-03-04T08:00:00")  # 17:00 JST
    assert d.rules == ("window.hours",) and d.next_allowed_at == _at("2026-03-05T00:00:00")


def test_missing_time_zone_uses_the_policy_zone(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    assert p.check("P1", "email", "2026-03-03T07:59:00").next_allowed_at == _at("2026-03-03T08:00:00")


def test_weekend_and_dst_spring_forward_in_paris(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    # Friday 2026-03-27 17:30 Paris (CET) → Monday 2026-03-30 09:00 Paris, now CEST = 07:00 UTC
    d = p.check("S1", "email", "2026-03-27T16:30:00")
    assert d.rules == ("window.hours",) and d.next_allowed_at == _at("2026-03-30T07:00:00")
    d = p.check("S1", "email", "2026-03-29T10:00:00")  # Sunday of the change
    assert d.rules == ("window.weekend",) and d.next_allowed_at == _at("2026-03-30T07:00:00")
    assert not p.check("S1", "email", "2026-03-30T06:59:59").allowed
    assert p.check("S1", "email", "2026-03-30T07:00:00").allowed


def test_dst_fall_back_in_paris(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    # Friday 2026-10-23 17:00 CEST (15:00 UTC) → Monday 2026-10-26 09:00 CET = 08:00 UTC
    assert p.check("S1", "email", "2026-10-23T14:59:00").allowed
    d = p.check("S1", "email", "2026-10-23T15:00:00")
    assert d.next_allowed_at == _at("2026-10-26T08:00:00")


def test_public_holiday(make_policy) -> None:  # noqa: ANN001
    d = make_policy().check("S1", "call", "2026-05-01T09:00:00")  # Friday 1 May (fête du travail)
    assert d.rules == ("window.holiday",) and d.next_allowed_at == _at("2026-05-04T07:00:00")


def test_daily_cap_per_channel_resets_at_local_midnight(make_policy) -> None:  # noqa: ANN001
    p = make_policy(touches("S1", ["2026-03-03 08:30:00", "2026-03-03 15:00:00"]))
    d = p.check("S1", "email", "2026-03-03T15:30:00")
    assert d.rules == ("daily_cap.email",) and d.next_allowed_at == _at("2026-03-04T08:00:00")
    assert p.check("S1", "call", "2026-03-03T15:30:00").allowed  # other channel, other cap
    assert p.check("S1", "email", "2026-03-04T08:00:00").allowed


def test_daily_cap_uses_the_lead_day_not_the_utc_day(make_policy) -> None:  # noqa: ANN001
    # Tokyo lead E2: 2026-03-03 23:30 UTC is already 4 March 08:30 in Tokyo
    rows = touches("E2", ["2026-03-03 23:30:00", "2026-03-04 00:10:00"], owner="carol")
    p = make_policy(rows, rules=_rules(segments=[]))  # no account cap: only the daily cap
    d = p.check("E2", "email", "2026-03-04T01:00:00")
    assert d.rules == ("daily_cap.email",) and d.next_allowed_at == _at("2026-03-05T00:00:00")


def test_account_cap_48h_across_days_and_the_fixed_point(make_policy) -> None:  # noqa: ANN001
    rows = touches("E1", ["2026-03-02 01:00:00"], channel="call", owner="bob") + touches("E2", ["2026-03-03 05:00:00"], channel="call", owner="carol")
    p = make_policy(rows)
    d = p.check("E2", "call", "2026-03-04T00:30:00")  # 09:30 Tokyo, 47.5 h after the first touch
    assert d.rules == ("account_cap",) and d.next_allowed_at == _at("2026-03-04T01:00:00")
    assert p.check("E1", "call", "2026-03-04T01:00:00").allowed  # exactly 48 h later: the old touch left the window
    # the cap reopens outside the window: the next time is the next window opening
    d = p.check("E2", "call", "2026-03-03T07:00:00")  # 16:00 Tokyo on 3 March
    assert d.rules == ("account_cap",) and d.next_allowed_at == _at("2026-03-04T01:00:00")


def test_several_rules_and_the_next_time_satisfying_all(make_policy) -> None:  # noqa: ANN001
    rows = touches("E2", ["2026-03-04 00:30:00", "2026-03-04 01:00:00"], owner="carol")
    d = make_policy(rows).check("E2", "email", "2026-03-04T06:00:00")  # 15:00 Tokyo
    assert set(d.rules) == {"daily_cap.email", "account_cap"}
    assert d.next_allowed_at == _at("2026-03-06T00:30:00")  # 48 h after the older touch, inside the window


def test_cool_down_after_consecutive_non_responses(make_policy) -> None:  # noqa: ANN001
    times = [f"2026-03-0{d} 09:00:00" for d in (2, 3, 4, 5, 6)]
    p = make_policy(touches("S1", times))
    d = p.check("S1", "call", "2026-03-09T09:00:00")
    assert d.rules == ("cool_down",) and d.next_allowed_at == _at("2026-03-13T09:00:00")
    assert p.check("S1", "call", "2026-03-13T09:00:00").allowed


def test_a_response_resets_the_non_responses(make_policy) -> None:  # noqa: ANN001
    times = [f"2026-03-0{d} 09:00:00" for d in (2, 3, 4, 5)]
    rows = touches("S1", times) + touches("S1", ["2026-03-06 09:00:00"], outcome="replied", prefix="r")
    rows += touches("S1", ["2026-03-06 10:00:00"], direction="in", outcome=None, prefix="in")
    p = make_policy(rows)
    assert p.lead_state("S1").consec == 0
    assert p.check("S1", "call", "2026-03-09T09:00:00").allowed


def test_four_non_responses_do_not_trigger_the_cool_down(make_policy) -> None:  # noqa: ANN001
    p = make_policy(touches("S1", [f"2026-03-0{d} 09:00:00" for d in (2, 3, 4, 5)]))
    assert p.check("S1", "call", "2026-03-09T09:00:00").allowed


def test_cadence_maximum_over_its_window(make_policy) -> None:  # noqa: ANN001
    # mid-outbound: at most 8 touches in 14 days; M1 is in New York (15:00 UTC = 10:00 EST)
    days = ["02", "03", "04", "05", "06", "09", "10", "11"]
    rows = touches("M1", [f"2026-03-{d} 15:00:00" for d in days], channel="call", outcome="connected", owner="bob")
    p = make_policy(rows)
    d = p.check("M1", "email", "2026-03-12T15:00:00")
    assert d.rules == ("cadence.max",) and d.next_allowed_at == _at("2026-03-16T15:00:00")


@pytest.mark.parametrize("action,rule", [("pause", "complaints.pause"), ("lower_cap", "complaints.lower_cap")])
def test_complaint_guardrail(make_policy, action, rule) -> None:  # noqa: ANN001
    rules = _rules(complaints={"max_rate": 0.002, "action": action, "lowered_daily_cap": 1, "min_sent": 2})
    # week of 2026-02-23: S2 got 3 emails, one complaint (33 % > 0.2 %)
    rows = touches("S2", ["2026-02-23 09:00:00", "2026-02-24 09:00:00"]) + touches("S2", ["2026-02-25 09:00:00"], outcome="complaint", prefix="c")
    rows += touches("S1", ["2026-03-03 08:30:00"])
    p = make_policy(rows, rules=rules)
    d = p.check("S1", "email", "2026-03-03T10:00:00")
    assert d.rules == (rule,) and d.flag_content
    if action == "pause":
        assert d.next_allowed_at == _at("2026-03-09T08:00:00")  # the next week, at the window opening
    else:
        assert d.next_allowed_at == _at("2026-03-04T08:00:00")
    assert p.check("S1", "call", "2026-03-03T10:00:00").allowed  # calls are not guarded
    assert p.check("M1", "email", "2026-03-03T15:00:00").allowed  # another segment


def test_unknown_lead_and_channel(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    with pytest.raises(NotFoundError, match="'nope'"):
        p.check("nope", "email")
    with pytest.raises(OptionError, match="'fax'"):
        p.check("S1", "fax")
    with pytest.raises(OptionError, match="'tomorrow'"):
        p.check("S1", "email", "tomorrow")


def test_aware_times_are_converted(make_policy) -> None:  # noqa: ANN001
    d = make_policy().check("S1", "email", "2026-03-30T09:00:00+02:00")
    assert d.allowed and d.at == _at("2026-03-30T07:00:00")
