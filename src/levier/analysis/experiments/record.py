"""An experiment's decision goes to the loop: registry status + a learning draft.

:func:`record_decision` takes the read-out and its :class:`~.decision.Decision` and, in one loop
session (the caller commits):

1. finds the experiment in the loop's experiments registry by key — or registers it from the
   protocol — and starts it if it is still *planned* (it produced data, so it ran);
2. decides it (``ship`` / ``iterate`` / ``stop``; ``hypotheses.decide_experiment``, which emits
   the ``experiment.decided`` webhook) with the analysis as its result, and moves its hypothesis
   to *supported* (green) or *refuted* (red);
3. writes the learning draft (``learnings.create_learning``): outcome *success* for green,
   *failure* for red and amber (the change did not deliver the expected effect; override with
   ``outcome``), the decision's reasons and effect as evidence, cause and lesson left for the
   team to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from levier.analysis.experiments.decision import ACTIONS, Decision
from levier.analysis.experiments.protocol import Protocol
from levier.analysis.experiments.readout import ExperimentResult
from levier.errors import NotFoundError, OptionError, RuleError
from levier.i18n import gettext as _
from levier.loop.services import hypotheses, learnings

__all__ = ["RecordedDecision", "record_decision", "learning_fields", "OUTCOME_OF_LIGHT", "HYPOTHESIS_OF_LIGHT"]

OUTCOME_OF_LIGHT = {"green": "success", "amber": "failure", "red": "failure"}
HYPOTHESIS_OF_LIGHT = {"green": "supported", "amber": None, "red": "refuted"}


@dataclass(frozen=True)
class RecordedDecision:
    """What was written to the loop."""

    experiment_id: int
    experiment_key: str
    status: str
    action: str
    light: str
    learning_id: int | None
    registered: bool
    started: bool
    learning: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "experiment_key": self.experiment_key, "status": self.status,
                "action": self.action, "light": self.light, "learning_id": self.learning_id,
                "registered": self.registered, "started": self.started, "learning": self.learning}


def _effect_line(draft: dict[str, Any], lang: str | None) -> str | None:
    e = draft.get("effect")
    if not e or e.get("estimate") is None:
        return None
    rel = e.get("difference") == "relative"
    f = (lambda v: f"{v:+.2%}") if rel else (lambda v: f"{v:+.4g}")
    p = f"p = {e['p_value']:.3g}" if e.get("p_value") is not None else \
        _("chance to win {c}", lang=lang, c=f"{e['chance_to_win']:.1%}") if e.get("chance_to_win") is not None else ""
    return _("{metric} in {arm}: {effect} [{low}; {high}] ({engine}{sep}{p})", lang=lang, metric=draft.get("metric"),
             arm=draft.get("arm"), effect=f(e["estimate"]), low=f(e["ci_low"]) if e.get("ci_low") is not None else "…",
             high=f(e["ci_high"]) if e.get("ci_high") is not None else "…", engine=e.get("engine"),
             sep=", " if p else "", p=p)


def learning_fields(decision: Decision, *, action: str | None = None, outcome: str | None = None,
                    lang: str | None = None) -> dict[str, Any]:
    """The learning the loop stores for ``decision`` (title, outcome, body, evidence)."""
    draft = decision.learning
    action = action or decision.action
    title = _("Experiment {title}: {action} ({light})", lang=lang, title=draft.get("title") or draft["experiment_key"],
              action=action, light=decision.light)
    body = [draft.get("summary", "")]
    if draft.get("hypothesis"):
        body.insert(0, _("Hypothesis: {text}", lang=lang, text=draft["hypothesis"]))
    if draft.get("variable"):
        body.insert(1, _("Variable tested: {text}", lang=lang, text=draft["variable"]))
    evidence = [_("experiment {key}, protocol version {v}", lang=lang, key=draft["experiment_key"],
                  v=draft.get("protocol_version") or "—")]
    if (line := _effect_line(draft, lang)) is not None:
        evidence.append(line)
    evidence += [m for _c, m in decision.reasons]
    evidence += [f"{k}: {v}" for k, v in sorted(draft.get("guardrails", {}).items())]
    return {"title": title[:300], "outcome": outcome or OUTCOME_OF_LIGHT[decision.light],
            "body": "\n\n".join(b for b in body if b), "evidence": evidence}


def _registry_entry(s: Session, key: str, protocol: Protocol | None, lang: str | None) -> tuple[Any, bool]:
    try:
        return hypotheses.get_experiment(s, key), False
    except NotFoundError:
        p = protocol or Protocol(key=key)
        row = hypotheses.create_experiment(
            s, key, p.title or key, variable=p.variable, variants=p.variants,
            guardrails=[m.name for m in p.guardrails], n_per_arm=p.planned_n_per_arm,
            start_date=p.start, end_date=p.end if p.start and p.end and p.end > p.start else None)
        return row, True


def record_decision(s: Session, result: ExperimentResult, decision: Decision, protocol: Protocol | None = None, *,
                    action: str | None = None, outcome: str | None = None, lang: str | None = None) -> RecordedDecision:
    """Decide the experiment in the loop's registry and store its learning draft (no commit)."""
    if action is not None and action not in hypotheses.DECISIONS:
        raise OptionError(_("--action must be ship, iterate or stop (got '{v}').", v=action))
    action = action or ACTIONS[decision.light]
    fields = learning_fields(decision, action=action, outcome=outcome, lang=lang)
    row, registered = _registry_entry(s, result.key, protocol, lang)
    if row.status in ("concluded", "stopped"):
        raise RuleError(_("Experiment '{key}' is already decided ({decision}); nothing was written.", key=row.key,
                          decision=row.decision or row.status),
                        hint=_("Its learning is in the loop (levier learning failures, or the API); start a new experiment to test again."))
    started = False
    if row.status == "planned":  # it produced data, so it ran
        hypotheses.start_experiment(s, row.id, start_date=protocol.start if protocol else None)
        started = True
    payload = {**result.to_dict(), "decision": decision.to_dict()}
    status = HYPOTHESIS_OF_LIGHT[decision.light] if action == ACTIONS[decision.light] else None
    row = hypotheses.decide_experiment(s, row.id, action, result=payload, hypothesis_status=status)
    learning = learnings.create_learning(s, fields["title"], outcome=fields["outcome"], body=fields["body"],
                                         experiment_id=row.id, evidence=fields["evidence"])
    return RecordedDecision(row.id, row.key, row.status, action, decision.light, learning.id, registered, started,
                            learning.to_dict())
