"""Learnings, failure board, versioned playbook entries and full-text search (SQLite FTS5 / PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

import pytest

from levier.errors import OptionError, RuleError
from levier.loop.services import hypotheses, learnings, playbook, retros, webhooks

CADENCE = {"steps": [{"day": 1, "channel": "call"}, {"day": 1, "channel": "email"}, {"day": 3, "channel": "call"}]}


def _learnings(s):  # noqa: ANN001, ANN202
    r = retros.create_retro(s, "campaign_post_mortem", "Webinar", "cost per qualified lead")
    retros.add_why_chain(s, r.id, "Few SQLs", ["late follow-up", "no SLA"])
    ok = learnings.create_learning(
        s, "Calling within two hours doubles meetings", outcome="success", body="Inbound SMB leads called fast book more meetings",
        channel="inbound", segment="smb", audience="SMB founders", timing="within 2 h", offer="demo", kpi_key="conversion_rate",
        evidence=["cycle_result:1#overall.ttf"], observed_at=datetime(2026, 1, 10),
    )
    bad = learnings.create_learning(
        s, "Webinar follow-up e-mails were ignored", outcome="failure", retro_id=r.id, channel="outbound", segment="mid",
        cause="generic content sent a week late", lesson="follow up the same day with the recording", observed_at=datetime(2026, 4, 2),
    )
    return ok, bad


def test_learnings_context_and_failure_board(s) -> None:  # noqa: ANN001
    ok, bad = _learnings(s)
    assert (ok.quarter, bad.quarter) == ("2026Q1", "2026Q2")
    with pytest.raises(OptionError):
        learnings.create_learning(s, "x", outcome="meh")
    with pytest.raises(OptionError, match="Unknown field"):
        learnings.create_learning(s, "x", outcome="success", colour="red")
    board = learnings.failure_board(s)
    assert [(b["id"], b["root_causes"], b["retro_title"]) for b in board] == [(bad.id, ["no SLA"], "Webinar")]
    assert [x.id for x in learnings.list_learnings(s, channel="inbound")] == [ok.id]


def test_versioned_entries_and_standardisation(s) -> None:  # noqa: ANN001
    ok, _bad = _learnings(s)
    webhooks.create_webhook(s, "ops", "https://example.invalid/h", ["playbook.standardised"])
    with pytest.raises(OptionError, match="cadence sequence"):
        playbook.create_entry(s, "smb-inbound", "cadence_sequence", "SMB inbound cadence", content={"steps": []})
    v1 = playbook.create_entry(s, "smb-inbound", "cadence_sequence", "SMB inbound cadence", content=CADENCE, segment="smb", channel="inbound")
    assert (v1.version, v1.status) == (1, "draft")
    with pytest.raises(RuleError, match="justified"):
        playbook.standardise(s, v1.id)
    playbook.link(s, v1.id, learning_ids=[ok.id])
    playbook.standardise(s, v1.id)
    assert v1.status == "standard" and v1.standardised_at is not None
    with pytest.raises(RuleError):
        playbook.update_draft(s, v1.id, title="x")
    exp = hypotheses.create_experiment(s, "ttf-sla", "TTF SLA test")
    v2 = playbook.new_version(s, "smb-inbound", body="Add an SMS on day 2", experiment_ids=[exp.id])
    assert (v2.version, v2.status, v2.content) == (2, "draft", CADENCE)
    with pytest.raises(RuleError, match="already has a draft"):
        playbook.new_version(s, "smb-inbound")
    playbook.standardise(s, v2.id)
    assert [(e.version, e.status) for e in playbook.versions(s, "smb-inbound")] == [(1, "retired"), (2, "standard")]
    d = playbook.entry_detail(s, v2.id)
    assert (d["learning_ids"], d["experiment_ids"]) == ([ok.id], [exp.id])
    assert [x.event for x in webhooks.list_deliveries(s)] == ["playbook.standardised", "playbook.standardised"]
    sla = playbook.create_entry(s, "ttf-sla", "threshold_sla", "Call inbound leads within 2 h", content={"metric": "ttf_hours", "value": 2, "unit": "h"})
    assert playbook.retire(s, sla.id).status == "retired"
    with pytest.raises(OptionError):
        playbook.create_entry(s, "Bad Key!", "message_template", "x")


def test_full_text_search_with_filters(s) -> None:  # noqa: ANN001
    ok, bad = _learnings(s)
    e = playbook.create_entry(s, "follow-up", "message_template", "Same-day webinar follow-up", body="Send the recording and one question", channel="outbound", segment="mid")
    playbook.link(s, e.id, learning_ids=[bad.id])

    def ids(query: str = "", **f) -> list[tuple[str, int]]:  # noqa: ANN003
        return sorted((h["kind"], h["id"]) for h in playbook.search(s, query, **f))

    assert ids("recording") == [("learning", bad.id), ("playbook", e.id)]
    assert ids("meetings") == [("learning", ok.id)]
    assert ids("webinar follow-up") == [("learning", bad.id), ("playbook", e.id)]
    assert ids("webinar", outcome="failure") == [("learning", bad.id), ("playbook", e.id)]
    assert ids("webinar", outcome="success") == []
    assert ids(channel="inbound") == [("learning", ok.id)]
    assert [h for h in ids(quarter="2026Q2") if h[0] == "learning"] == [("learning", bad.id)]
    assert ids("nothing-matches-this") == []
    learnings.update_learning(s, ok.id, lesson="answer with a calendar link")
    assert ids("calendar") == [("learning", ok.id)]
    with pytest.raises(OptionError):
        playbook.search(s, "x", colour="red")


def test_search_pushes_ids_filters_and_limit_into_sql(s) -> None:  # noqa: ANN001
    import sqlalchemy as sa

    ok, bad = _learnings(s)
    made = [learnings.create_learning(s, f"Note {i}", outcome="success" if i % 2 else "failure", channel="email", observed_at=datetime(2026, 5, 1))
            for i in range(12)]
    entries = [playbook.create_entry(s, f"e-{i}", "message_template", f"Template {i}", body="cadence step", channel="outbound") for i in range(10)]
    for e in entries[:3]:
        playbook.link(s, e.id, learning_ids=[bad.id])
    playbook.retire(s, entries[9].id)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = s.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        first = playbook.search(s, limit=5)
        linked = playbook.search(s, "cadence", outcome="failure", kinds=("playbook",))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    # no words: every score is 0, so the first 5 learnings by id are the answer
    assert [(h["kind"], h["id"]) for h in first] == [("learning", x.id) for x in (ok, bad, *made[:3])]
    assert sorted(h["id"] for h in linked) == sorted(e.id for e in entries[:3])  # outcome of a linked learning, in one sub-query
    assert len(statements) <= 5  # before: one query per entry for the outcome filter
    hits = playbook.search(s, "cadence", limit=50)
    assert sorted(h["id"] for h in hits) == sorted(e.id for e in entries[:9])  # the retired one is left out
    assert len(playbook.search(s, "cadence", include_retired=True)) == 10
    assert [h["id"] for h in playbook.search(s, channel="email", outcome="failure", kinds=("learning",))] == [x.id for x in made[::2]]
