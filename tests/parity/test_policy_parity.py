"""The contact-policy compliance audit gives the same numbers on DuckDB and PySpark (issue 10)."""

from __future__ import annotations

import pytest
from tests.parity.conftest import assert_parity

from levier.policy.compliance import audit
from levier.policy.rules import default_rules_text, parse_rules


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_policy_compliance_parity(parity) -> None:  # noqa: ANN001
    rules = parse_rules(default_rules_text())
    report, _ = assert_parity(parity, lambda ws: audit(ws, rules, "2026-08-01", "2026-09-30"))
    a = report.to_dict()
    # golden counts of the parity data set (the same on both engines): every rule family fires
    assert a["touches"] == 926 and len(a["violations"]) == 87
    assert a["by_rule"] == {"window": 527, "daily_cap": 230, "cadence_max": 182, "account_cap": 123, "cool_down": 527,
                            "opt_out": 33, "escalation": 18}
    assert a["alarm"] is True and len(a["opt_out_touch_ids"]) == 33
    assert sum(r["breaches"] for r in a["ttf"]) == 23 and len(a["complaints"]) == 24 and a["max_complaint_rate"] == 0.125
