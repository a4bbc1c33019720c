"""Retros: templates, observations (figures and qualitative), votes, groups, 5 whys, reverse SWOT."""

from __future__ import annotations

import pytest

from levier.errors import ConflictError, OptionError, RuleError
from levier.loop.services import cycles, hypotheses, learnings, retros, users

AUDIT = {"version": 1, "overall": {"conversion_rate": 0.18, "ttf": {"median_hours": 1.7}}, "segments": [{"label": "inbound/smb", "n": 1200}]}


def test_observations_from_figures_and_fields(s) -> None:  # noqa: ANN001
    u = users.create_user(s, "ana", role="editor")
    c = cycles.create_cycle(s, "Oct", period_start="2026-10-01", period_end="2026-11-01")
    res = cycles.attach_result(s, c.id, AUDIT)
    r = retros.create_retro(s, "monthly_audit_review", "October review", "lead → opportunity conversion", cycle_id=c.id, participants=["ana", "bo"])
    assert r.status == "open" and r.previous_id is None
    o1 = retros.observe_figure(s, r.id, cycle_result_id=res.id, figure_key="overall.ttf.median_hours", author_id=u.id)
    assert (o1.kind, o1.source, o1.figure_key, o1.figure_value, o1.figure_ref) == ("quantitative", "audit", "overall.ttf.median_hours", 1.7, f"cycle_result:{res.id}")
    assert o1.text == "overall.ttf.median_hours = 1.7"
    o2 = retros.observe_figure(s, r.id, cycle_result_id=res.id, figure_key="segments.0.n")
    assert o2.figure_value == 1200
    with pytest.raises(OptionError, match="not in the result"):
        retros.observe_figure(s, r.id, cycle_result_id=res.id, figure_key="overall.r")
    with pytest.raises(OptionError, match="not a number"):
        retros.observe_figure(s, r.id, cycle_result_id=res.id, figure_key="segments.0.label")
    exp = hypotheses.create_experiment(s, "subject-line", "Subject line test")
    hypotheses.record_result(s, exp.id, {"primary": {"lift": 0.031}})
    o3 = retros.observe_figure(s, r.id, experiment_id=exp.id, figure_key="primary.lift")
    assert (o3.source, o3.figure_ref, o3.figure_value) == ("experiment", "experiment:subject-line", 0.031)
    o4 = retros.add_observation(s, r.id, "Prospects say the form is too long", source="interview", author_id=u.id, anonymous=True)
    assert o4.author_id is None and o4.anonymous
    with pytest.raises(OptionError, match="figure's key and value"):
        retros.add_observation(s, r.id, "x", kind="quantitative", source="audit")
    with pytest.raises(OptionError, match="qualitative observation comes from"):
        retros.add_observation(s, r.id, "x", source="audit")
    retros.vote(s, o4.id, "ana")
    retros.vote(s, o4.id, "bo")
    with pytest.raises(ConflictError):
        retros.vote(s, o4.id, "ana")
    retros.group(s, [o1.id, o4.id], "Speed to lead")
    detail = retros.retro_detail(s, r.id)
    assert {o["id"]: o["votes"] for o in detail["observations"]} == {o1.id: 0, o2.id: 0, o3.id: 0, o4.id: 2}
    assert {o["id"] for o in detail["observations"] if o["group_label"] == "Speed to lead"} == {o1.id, o4.id}
    assert detail["retro"]["template_info"]["cadence"] == "monthly"


def test_post_mortem_tools_and_closing(s) -> None:  # noqa: ANN001
    r = retros.create_retro(s, "campaign_post_mortem", "Black Friday emails", "cost per qualified lead")
    chain = retros.add_why_chain(s, r.id, "CPL doubled", ["CTR fell", "subject lines were generic", "no test", "no time", "no process"])
    assert chain.root_cause == "no process" and len(chain.whys) == 5
    with pytest.raises(OptionError):
        retros.add_why_chain(s, r.id, "x", [])
    retros.add_swot(s, r.id, "weakness", "No A/B test on subject lines")
    with pytest.raises(OptionError):
        retros.add_swot(s, r.id, "luck", "x")
    assert retros.set_error_category(s, r.id, "operational").error_category == "operational"
    with pytest.raises(OptionError):
        retros.set_error_category(s, r.id, "bad luck")
    with pytest.raises(RuleError, match="no measurable learning"):
        retros.close_retro(s, r.id)
    learnings.create_learning(s, "Generic subject lines kill CTR", outcome="failure", retro_id=r.id, cause="no test")
    assert retros.close_retro(s, r.id).status == "closed"
    with pytest.raises(RuleError, match="closed"):
        retros.add_swot(s, r.id, "threat", "x")
    with pytest.raises(OptionError):
        retros.create_retro(s, "daily_standup", "x", "y")
    d = retros.retro_detail(s, r.id)
    assert [w["root_cause"] for w in d["why_chains"]] == ["no process"] and d["swot"][0]["quadrant"] == "weakness"
