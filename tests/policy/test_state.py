"""The incremental state: coherence with a rebuild, and the property that allowed touches never break a rule."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.policy.conftest import LEADS, touches

from levier.data._frames import insert_frames
from levier.policy import Policy
from levier.policy._time import DAY, local_day_bounds, to_epoch, window_state, zone
from levier.policy.snapshot import snapshot_dir


def test_posting_a_touch_changes_the_next_answer(make_policy) -> None:  # noqa: ANN001
    p = make_policy(touches("S1", ["2026-03-03 08:30:00"]))
    assert p.check("S1", "email", "2026-03-03T10:00:00").allowed
    p.record_touch("S1", "email", "2026-03-03T09:30:00", outcome="delivered")
    d = p.check("S1", "email", "2026-03-03T10:00:00")
    assert d.rules == ("daily_cap.email",)
    raw = p.ws.facts.raw("touches")
    assert int(raw.filter(raw.lead_id == "S1").count().execute()) == 2
    assert not p.is_stale()  # the posted touch is in the facts and in the state


def test_a_rebuilt_state_equals_the_incremental_one(make_policy, tmp_path: Path) -> None:  # noqa: ANN001
    p = make_policy(touches("S1", ["2026-03-03 08:30:00"]) + touches("E1", ["2026-03-03 01:00:00"], owner="bob"))
    posts = [("S1", "call", "2026-03-03T09:00:00", "no_answer"), ("S1", "email", "2026-03-04T09:00:00", "unsubscribed"),
             ("E2", "call", "2026-03-04T01:00:00", "connected"), ("E1", "email", "2026-03-05T01:00:00", None),
             ("M1", "sms", "2026-03-05T15:00:00", "replied"), ("M1", "call", "2026-03-06T15:00:00", "no_answer")]
    for lead, ch, at, outcome in posts:
        p.record_touch(lead, ch, at, outcome=outcome)
    fresh = Policy.load(p.ws, state_path=tmp_path / "fresh.sqlite")
    try:
        for lead in LEADS:
            lid = lead["lead_id"]
            assert fresh.lead_state(lid) == p.lead_state(lid), lid
            for ch in ("email", "call"):
                for at in ("2026-03-05T02:00:00", "2026-03-06T09:00:00", "2026-03-09T15:30:00"):
                    assert fresh.check(lid, ch, at) == p.check(lid, ch, at)
        for acc in ("A1", "A3"):
            assert fresh.store.account(acc) == p.store.account(acc)
    finally:
        fresh.close()


def test_an_import_outside_the_policy_triggers_a_rebuild(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    insert_frames(p.ws.facts, {"touches": [{**touches("S1", ["2026-03-03 08:30:00"])[0], "_row_id": 99}]})
    assert p.is_stale() and p.refresh()
    assert p.lead_state("S1").last_out == to_epoch(datetime(2026, 3, 3, 8, 30))


# -- property: a sequence of touches each allowed by check never breaks any rule -------------------
LEAD_IDS = ["S1", "S2", "M1", "E1", "E2", "O1", "V1"]
STEP = st.tuples(st.sampled_from(LEAD_IDS), st.sampled_from(["email", "call", "sms"]), st.integers(0, 3000),
                 st.sampled_from(["no_answer", "no_answer", "delivered", "replied", "connected"]))


def _violations(p: Policy, made: list[tuple[str, str, int, str]]) -> list[str]:
    rules, out = p.rules, []
    info = {row["lead_id"]: row for row in LEADS}
    by_lead: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for lead, ch, ts, outcome in made:
        by_lead[lead].append((ts, ch, outcome))
    for lead, seq in by_lead.items():
        state = p.lead_state(lead)
        seg = rules.segment_for(state.channel, state.size, state.phase)
        tz = zone(state.tz, rules.timezone)
        if lead in ("O1", "V1") and any(ts >= to_epoch(datetime(2026, 3, 10, 12)) or lead == "V1" for ts, _c, _o in seq):
            out.append(f"{lead}: touched after opt-out / escalation")
        days: dict[tuple[int, str], int] = defaultdict(int)
        for i, (ts, ch, _o) in enumerate(seq):
            if window_state(ts, tz, rules.window):
                out.append(f"{lead}: outside the window at {ts}")
            days[(local_day_bounds(ts, tz)[0], ch)] += 1
            cap = rules.daily_cap(seg, ch)
            if cap is not None and days[(local_day_bounds(ts, tz)[0], ch)] > cap:
                out.append(f"{lead}: daily cap {ch}")
            if seg and seg.cadence and seg.cadence.max_touches:
                n = sum(1 for t, _c, _o in seq[: i + 1] if ts - seg.cadence.days * DAY < t <= ts)
                if n > seg.cadence.max_touches:
                    out.append(f"{lead}: cadence max")
            prior = 0
            for _t, _c, o in reversed(seq[:i]):
                if o in rules.response_outcomes:
                    break
                prior += 1
            if i and prior >= rules.cool_down.after_non_responses and ts < seq[i - 1][0] + rules.cool_down.days * DAY:
                out.append(f"{lead}: cool-down")
        if seg and seg.account_cap:
            account = [t for lid, _c, t, _o in made if info[lid].get("account_id") == state.account_id]
            for ts, _c, _o in seq:
                n = sum(1 for t in account if ts - seg.account_cap.hours * 3600 < t <= ts)
                if n > seg.account_cap.touches:
                    out.append(f"{lead}: account cap")
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=45))
def test_allowed_touches_never_break_a_rule(make_policy, steps) -> None:  # noqa: ANN001
    p = _shared(make_policy)
    p.store.replace_all(_SNAPSHOT["leads"], _SNAPSHOT["accounts"], [], {})
    now = datetime(2026, 3, 20, 6, 0)  # crosses the spring DST change of 29 March
    made: list[tuple[str, str, int, str]] = []
    for lead, ch, gap, outcome in steps:
        now += timedelta(minutes=gap)
        d = p.check(lead, ch, now)
        if d.allowed:
            ts = to_epoch(now)
            p.store.record(p.lead_state(lead), ts, ch, True, outcome, p.responses, {})
            made.append((lead, ch, ts, outcome))
        elif d.next_allowed_at is not None:
            assert d.next_allowed_at > now
            again = p.check(lead, ch, d.next_allowed_at)
            assert again.allowed, (d, again)
    assert _violations(p, made) == []


_SNAPSHOT: dict[str, list] = {}
_SHARED: dict[str, Policy] = {}


def _shared(make_policy) -> Policy:  # noqa: ANN001
    key = str(id(make_policy))
    if key not in _SHARED:
        p = make_policy()
        _SHARED.clear()
        _SHARED[key] = p
        _SNAPSHOT["leads"] = p.store.con.execute("SELECT * FROM leads").fetchall()
        _SNAPSHOT["accounts"] = p.store.con.execute("SELECT * FROM accounts").fetchall()
    return _SHARED[key]


def test_the_lead_cache_follows_writes_from_another_connection(make_policy, tmp_path: Path) -> None:  # noqa: ANN001
    """Two policies on one state file (two web workers): a touch posted by one changes the other's next answer."""
    p = make_policy(touches("S1", ["2026-03-03 08:30:00"]))
    other = Policy.load(p.ws, state_path=p.store.path)
    try:
        assert other.check("S1", "email", "2026-03-03T10:00:00").allowed  # read from the shared snapshot
        snap = other.store.snapshot()
        assert snap is not None and "S1" not in other.store._dirty
        p.record_touch("S1", "email", "2026-03-03T09:30:00", outcome="delivered")
        assert other.check("S1", "email", "2026-03-03T10:00:00").rules == ("daily_cap.email",)
        assert "S1" in other.store._dirty and "A1" in other.store._dirty_acc  # changed since the snapshot: read from SQLite
        assert other.store.cached_lead("S1") == p.lead_state("S1") == other.lead_state("S1")
        assert other.store.snapshot() is snap  # a posted touch does not rebuild the snapshot
        p.store.forget("S1")  # erasure through one connection: the other no longer finds the lead
        assert other.store.cached_lead("S1") is None
        assert other.check("S2", "email", "2026-03-03T10:00:00").allowed  # a new generation, a new snapshot without S1
        snaps = [f for f in snapshot_dir(p.store.path).rglob("*") if f.is_file()]
        assert snaps and not [f for f in snaps if b"S1" in f.read_bytes()]
    finally:
        other.close()


def test_snapshot_and_sqlite_reads_give_the_same_answers(make_policy, tmp_path: Path) -> None:  # noqa: ANN001
    rows = (touches("S1", ["2026-03-03 08:30:00", "2026-03-03 09:10:00"]) + touches("E1", ["2026-03-03 01:00:00"], owner="bob")
            + touches("E2", ["2026-03-03 02:00:00", "2026-03-04 01:00:00"], channel="call", owner="carol")
            + touches("M1", [f"2026-03-0{d} 15:00:00" for d in range(2, 8)], outcome="no_answer", owner="bob"))
    p = make_policy(rows)
    plain = Policy.load(p.ws, state_path=p.store.path, snapshot=False)
    try:
        assert p.store.snapshot() is not None and plain.store.snapshot() is None
        for lead in LEADS:
            lid = lead["lead_id"]
            assert p.store.cached_lead(lid) == plain.lead_state(lid), lid
            for ch in ("email", "call", "sms"):
                for at in ("2026-03-03T10:00:00", "2026-03-04T02:30:00", "2026-03-07T22:00:00", "2026-03-09T08:00:00"):
                    assert p.check(lid, ch, at) == plain.check(lid, ch, at), (lid, ch, at)
        assert p.store.cached_account("A3") == plain.store.account("A3") and len(p.store.cached_account("A3")) == 3
        assert p.store.cached_lead("nope") is None and p.store.cached_account("nope") == []
    finally:
        plain.close()


def test_the_lead_cache_is_bounded_and_emptied_by_own_writes(make_policy) -> None:  # noqa: ANN001
    p = make_policy(snapshot=False)  # the LRU serves every read
    p.store.LEAD_CACHE = 2
    for lid in ("S1", "S2", "M1"):
        p.check(lid, "email", "2026-03-03T10:00:00")
    assert list(p.store._cache) == ["S2", "M1"]
    p.record_touch("S2", "call", "2026-03-03T09:30:00", outcome="no_answer")
    assert not p.store._cache
    assert p.check("S2", "call", "2026-03-03T10:00:00") == p.check("S2", "call", "2026-03-03T10:00:00")
    assert p.store.cached_lead("S2") == p.lead_state("S2")


def test_a_long_change_log_is_folded_into_a_new_snapshot(make_policy) -> None:  # noqa: ANN001
    """Past CHANGES_MAX rows the log is folded into a snapshot of the same generation; every worker maps it."""
    p = make_policy(touches("S1", ["2026-03-03 08:30:00"]))
    other = Policy.load(p.ws, state_path=p.store.path)
    try:
        generation, first = p.store.meta("generation"), other.store.snapshot()
        assert first is not None and first.seq == 0
        posts = [("S1", "email", "2026-03-03T09:30:00"), ("E1", "call", "2026-03-03T01:00:00"), ("M1", "sms", "2026-03-03T15:00:00")]
        for lead, ch, at in posts:
            p.record_touch(lead, ch, at, outcome="no_answer")
        assert p.store.pending_changes() == 3 and not p.compact()  # under the bound (50,000)
        p.store.CHANGES_MAX = 2
        assert p.compact() and p.store.pending_changes() == 0
        assert p.store.meta("generation") == generation and p.store.meta("folded") == "3"
        assert [d.name for d in snapshot_dir(p.store.path).iterdir() if d.is_dir()] == [f"{generation}-3"]
        assert other.check("S1", "email", "2026-03-03T10:00:00").rules == ("daily_cap.email",)  # from the folded snapshot
        snap = other.store.snapshot()
        assert snap is not None and snap.seq == 3 and not other.store._dirty and not other.store._dirty_acc
        assert other.store.cached_lead("E1") == p.lead_state("E1") and other.store.cached_account("A3") == p.store.account("A3")
        p.record_touch("S2", "email", "2026-03-03T09:00:00", outcome="no_answer")  # seq 4: after the fold, read from SQLite
        assert other.check("S2", "email", "2026-03-03T10:00:00").allowed and other.store._dirty == {"S2"}
        assert other.store.cached_lead("S2") == p.lead_state("S2")
        plain = Policy.load(p.ws, state_path=p.store.path, snapshot=False)
        try:
            for lead in ("S1", "S2", "E1", "M1"):
                for ch in ("email", "call", "sms"):
                    assert other.check(lead, ch, "2026-03-04T10:00:00") == plain.check(lead, ch, "2026-03-04T10:00:00")
        finally:
            plain.close()
    finally:
        other.close()
