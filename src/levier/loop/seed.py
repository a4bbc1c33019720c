"""Seed a workspace's loop with a living demo: users, the real audit on its cycle, a retro with
observations, votes, 5 whys and actions (verified from the facts: some met, some missed), learnings,
playbook entries (standard and draft, with history), an experiment, and the next retro.

Everything goes through the loop services, and every figure comes from the workspace facts
(the audit and the action verifications are real runs). Dates follow the audited period, so the
seed works on any demo data set. Seeding twice does nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from levier.i18n import gettext as _
from levier.loop.models import Action, User

__all__ = ["SeedSummary", "seed_demo", "DEMO_USERS", "DEMO_PASSWORD"]

DEMO_PASSWORD = "levier-demo"
#: user name, role, display name
DEMO_USERS = (
    ("admin", "admin", "Alex Admin (RevOps)"),
    ("camille", "editor", "Camille Durand (head of sales)"),
    ("ines", "editor", "Inès André (SDR)"),
    ("lucas", "viewer", "Lucas Moreau (CEO)"),
)


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`seed_demo` created (``already`` when the workspace was seeded before)."""

    already: bool
    users: tuple[str, ...] = ()
    cycle_id: int | None = None
    retro_ids: tuple[int, ...] = ()
    actions: dict[str, int] = field(default_factory=dict)
    learnings: int = 0
    playbook_entries: int = 0
    experiment_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"already": self.already, "users": list(self.users), "cycle_id": self.cycle_id, "retro_ids": list(self.retro_ids),
                "actions": dict(self.actions), "learnings": self.learnings, "playbook_entries": self.playbook_entries,
                "experiment_id": self.experiment_id, "password": DEMO_PASSWORD}


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour))


def _users(s: Any, password: str) -> dict[str, User]:
    from levier.loop.services import users

    return {name: users.create_user(s, name, role=role, password=password, name=label) for name, role, label in DEMO_USERS}


def _retro_one(s: Any, ws: Any, cycle_id: int, result_id: int, end: date, people: dict[str, User]) -> tuple[int, list[Action]]:
    from levier.loop.services import actions, retros

    retro = retros.create_retro(
        s, "monthly_audit_review", _("Monthly audit review"), _("+2 pts of lead → opportunity conversion next quarter"),
        period_start=end - timedelta(days=30), period_end=end, participants=list(people), cycle_id=cycle_id,
        held_at=_at(end + timedelta(days=5)), created_by_id=people["admin"].id,
    )
    ttf = retros.observe_figure(s, retro.id, figure_key="dashboard.median_ttf_hours", cycle_result_id=result_id,
                                text=_("Median TTF is far above the 2 h SLA"), author_id=people["admin"].id)
    retros.observe_figure(s, retro.id, figure_key="dashboard.conversion_rate", cycle_result_id=result_id, author_id=people["camille"].id)
    retros.add_observation(s, retro.id, _("Inbound leads wait for the morning call round"), source="field", author_id=people["ines"].id)
    for voter in ("admin", "camille", "ines"):
        retros.vote(s, ttf.id, voter)
    retros.add_why_chain(s, retro.id, _("Inbound leads are called late"), [
        _("Calls happen in one round each morning"), _("Reps batch their calls"), _("No alert when a lead arrives"),
        _("The CRM routing has no SLA"), _("Nobody owns the TTF target"),
    ])
    retros.add_swot(s, retro.id, "weakness", _("No owner for the time to first contact"))
    specs = [  # title, owner, kpi, baseline, target, status
        (_("Call inbound leads within 2 h (lead alert)"), "ines", "ttf_hours", 11.95, 11.5, "done"),
        (_("Bring 35 % of leads within the TTF SLA"), "camille", "share_within_sla", 0.269, 0.35, "done"),
        (_("Keep complaints under 0.08 % of touches"), "admin", "complaint_rate", 0.00081, 0.0008, "done"),
        (_("Lower the cost per qualified lead by 5 %"), "camille", "cplq", 12.2, 11.59, "done"),
    ]
    start = end + timedelta(days=5)
    made = []
    for title, owner, kpi, base, target, status in specs:
        a = actions.create_action(s, title, owner=owner, due_date=start + timedelta(days=29), kpi_key=kpi, baseline=base, target=target,
                                  window_start=start, window_end=start + timedelta(days=29), retro_id=retro.id)
        actions.set_status(s, a.id, status, at=_at(start + timedelta(days=25)))
        made.append(actions.verify_action(s, ws, a.id))
    later = end + timedelta(days=45)
    made.append(actions.create_action(s, _("Document the top rep's cadence and test it elsewhere"), owner="ines", due_date=later,
                                      kpi_key="effective_contact_rate", target=0.21, baseline=0.197, retro_id=retro.id))
    nxt = actions.create_action(s, _("Shorter cadence for SMB outbound"), owner="camille", due_date=date.today() + timedelta(days=21),
                                kpi_key="conversion_rate", target=0.22, baseline=0.204, retro_id=retro.id,
                                window_start=date.today() - timedelta(days=7), window_end=date.today() + timedelta(days=21))
    actions.set_status(s, nxt.id, "in_progress")
    made.append(nxt)
    return retro.id, made


def _knowledge(s: Any, retro_id: int, people: dict[str, User]) -> tuple[int, int, int]:
    from levier.loop.services import hypotheses, learnings, playbook, retros

    win = learnings.create_learning(
        s, _("A lead alert halves the wait before the first call"), outcome="success", retro_id=retro_id, kpi_key="ttf_hours",
        body=_("With an alert on each new inbound lead, the median time to first contact fell below the target."),
        lesson=_("Alert the owner at once; call within 2 h"), audience="inbound", channel="call", segment="inbound/smb",
    )
    fail = learnings.create_learning(
        s, _("Morning call rounds miss the SLA"), outcome="failure", retro_id=retro_id, kpi_key="share_within_sla",
        body=_("Batching calls once a day kept the share within the SLA flat."), cause=_("Calls batched once a day"),
        lesson=_("Route leads in real time"), error_category="operational", channel="call", segment="inbound",
    )
    cadence = playbook.create_entry(
        s, "smb-inbound-cadence", "cadence_sequence", _("SMB inbound cadence: 4 touches in 10 days"),
        body=_("Call within 2 h, then e-mail, call, e-mail; at most 2 e-mails a day."), segment="inbound/smb", channel="call",
        kpi_key="conversion_rate", learning_ids=[win.id],
        content={"steps": [{"day": 0, "channel": "call"}, {"day": 1, "channel": "email"}, {"day": 4, "channel": "call"}, {"day": 9, "channel": "email"}]},
    )
    playbook.standardise(s, cadence.id)
    v2 = playbook.new_version(s, "smb-inbound-cadence", title=_("SMB inbound cadence: 5 touches in 10 days"),
                              content={"steps": [{"day": 0, "channel": "call"}, {"day": 0, "channel": "email"}, {"day": 2, "channel": "call"},
                                                 {"day": 5, "channel": "social"}, {"day": 9, "channel": "email"}]})
    playbook.standardise(s, v2.id)
    sla = playbook.create_entry(s, "ttf-sla-inbound", "threshold_sla", _("Inbound TTF SLA: first call within 2 hours"),
                                body=_("Every inbound lead gets a first call within 2 hours, alert on arrival."), segment="inbound",
                                kpi_key="ttf_hours", learning_ids=[win.id, fail.id], content={"metric": "ttf_hours", "value": 2, "unit": "h"})
    playbook.standardise(s, sla.id)
    playbook.create_entry(s, "enterprise-intro-mail", "message_template", _("Enterprise intro e-mail"),
                          body=_("Short intro referring to the account's industry; one question, no attachment."), segment="enterprise", channel="email")
    hyp = hypotheses.create_hypothesis(s, _("A question in the subject line raises the reply rate"), kpi_key="conversion_rate",
                                       expected_change=0.02, retro_id=retro_id)
    exp = hypotheses.create_experiment(s, "subject-line-2026-10", _("Subject line with a question"), hypothesis_id=hyp.id,
                                       variable=_("e-mail subject line"), variants=["control", "treatment"], primary_kpi="conversion_rate",
                                       guardrails=["complaint_rate", "unsubscribe_rate"], n_per_arm=2400)
    hypotheses.start_experiment(s, exp.id)
    del retros
    return 2, 3, exp.id


def seed_demo(ws: Any, *, password: str = DEMO_PASSWORD) -> SeedSummary:
    """Seed the loop of ``ws`` (a workspace with imported, cleaned facts); idempotent."""
    from levier.analysis import run_audit
    from levier.loop.services import cycles, retros

    with ws.session() as s:
        if s.scalar(sa.select(User.id).where(User.username == "admin")) is not None:
            return SeedSummary(already=True)
        people = _users(s, password)
        payload = run_audit(ws).to_dict()
        res = cycles.record_audit(s, payload, user_id=people["admin"].id)
        cycle = cycles.get_cycle(s, res.cycle_id)
        for step in ("frame", "collect", "clean", "visualise", "quantify"):
            cycles.complete_step(s, cycle.id, step, at=_at(cycle.period_end + timedelta(days=3)))
        light = (payload.get("dashboard") or {}).get("traffic_light")
        cycles.add_decision(s, cycle.id, _("TTF target 2 h on inbound; re-test the cadence on SMB outbound"),
                            colour=light if light in ("green", "amber", "red") else None, decided_by="camille",
                            thresholds={t["segment"]: {k: t[k] for k in ("min_touches", "ttf_target_hours", "max_per_day")} for t in payload.get("thresholds") or []})
        retro_id, made = _retro_one(s, ws, cycle.id, res.id, cycle.period_end, people)
        n_learn, n_entries, exp_id = _knowledge(s, retro_id, people)
        micro = retros.create_retro(s, "weekly_micro_retro", _("Weekly micro-retro"), _("One friction, one action"),
                                    held_at=_at(cycle.period_end + timedelta(days=40)), created_by_id=people["camille"].id)
        retros.review_previous_actions(s, micro.id, ws)
        s.commit()
        verdicts: dict[str, int] = {}
        for a in made:
            verdicts[a.verification or a.status] = verdicts.get(a.verification or a.status, 0) + 1
        return SeedSummary(False, tuple(people), cycle.id, (retro_id, micro.id), verdicts, n_learn, n_entries, exp_id)
