"""The contact policy: rules as data, the real-time check, sequences, compliance, data protection.

    from levier.policy import Policy
    with Policy.load(ws) as policy:
        policy.check("L001", "email", "2026-03-30T09:30:00+02:00")
        policy.record_touch("L001", "email", "2026-03-30T07:31:00Z", outcome="delivered")
"""

from __future__ import annotations

from levier.policy.core import POLICY_KEY, Policy, active_rules, rules_changed, save_rules
from levier.policy.engine import ALLOW, DENY, ESCALATE, Decision
from levier.policy.rules import PolicyRules, Segment, default_rules_text, load_rules, parse_rules

__all__ = [
    "Policy", "Decision", "PolicyRules", "Segment", "ALLOW", "DENY", "ESCALATE", "POLICY_KEY",
    "active_rules", "save_rules", "rules_changed", "load_rules", "parse_rules", "default_rules_text",
]
