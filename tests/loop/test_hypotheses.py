"""Hypotheses and the experiments registry: protocol fields, status transitions, decision webhook."""

from __future__ import annotations

import pytest

from levier.errors import ConflictError, OptionError, RuleError
from levier.loop.services import hypotheses, retros, webhooks


def test_hypothesis_to_experiment_lifecycle(s) -> None:  # noqa: ANN001
    webhooks.create_webhook(s, "growth", "https://example.invalid/hook", ["experiment.decided"], format="slack")
    r = retros.create_retro(s, "weekly_micro_retro", "W1", "landing → form conversion")
    obs = retros.add_observation(s, r.id, "Mobile users drop at field 5", source="field")
    h = hypotheses.create_hypothesis(s, "A 3-field form lifts conversion", kpi_key="conversion_rate", expected_change=0.02, observation_id=obs.id)
    assert h.retro_id == r.id and h.status == "open"
    with pytest.raises(OptionError):
        hypotheses.create_hypothesis(s, "x", kpi_key="likes")
    e = hypotheses.create_experiment(
        s, "form-3-fields", "Short form", hypothesis_id=h.id, variable="number of form fields", variants=["7 fields", "3 fields"],
        primary_kpi="conversion_rate", guardrails=["complaint_rate"], n_per_arm=400, start_date="2026-03-01", end_date="2026-03-29",
    )
    assert h.status == "testing" and e.status == "planned"
    with pytest.raises(ConflictError):
        hypotheses.create_experiment(s, "form-3-fields", "again")
    with pytest.raises(OptionError):
        hypotheses.create_experiment(s, "k2", "x", variants=["a"])
    with pytest.raises(RuleError, match="not run yet"):
        hypotheses.decide_experiment(s, e.id, "ship")
    hypotheses.update_experiment(s, e.id, n_per_arm=500)
    hypotheses.start_experiment(s, e.id)
    with pytest.raises(RuleError, match="frozen"):
        hypotheses.update_experiment(s, e.id, n_per_arm=50)
    hypotheses.decide_experiment(s, e.id, "ship", result={"lift": 0.025, "p_value": 0.01}, hypothesis_status="supported")
    assert (e.status, e.decision, h.status, e.result["lift"]) == ("concluded", "ship", "supported", 0.025)
    with pytest.raises(RuleError, match="cannot go from concluded"):
        hypotheses.decide_experiment(s, e.id, "stop")
    [delivery] = webhooks.list_deliveries(s)
    assert delivery.event == "experiment.decided" and delivery.payload["text"].startswith("[Levier] experiment.decided: Short form")
    stopped = hypotheses.create_experiment(s, "k3", "Never ran")
    assert hypotheses.decide_experiment(s, stopped.id, "stop").status == "stopped"
    assert [x.key for x in hypotheses.list_experiments(s, status="concluded")] == ["form-3-fields"]
    assert hypotheses.get_experiment(s, "form-3-fields").id == e.id
