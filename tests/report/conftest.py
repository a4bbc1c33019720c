"""Fixtures for the report tests: the hand-written audit dict (docs/dev/audit-contract.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "audit_sample.json"


@pytest.fixture(scope="session")
def _sample() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture
def audit_sample(_sample: dict[str, Any]) -> dict[str, Any]:
    """A fresh deep copy of the sample audit dict (tests may mutate it)."""
    return copy.deepcopy(_sample)


def degrade(data: dict[str, Any]) -> dict[str, Any]:
    """The sample with every optional figure undefined and every list empty."""
    data = copy.deepcopy(data)
    data["comparison"] = None
    data["definitions"], data["thresholds"], data["diagnostic"], data["outliers"] = [], [], [], []
    data["clusters"] = []
    data["cleaning"] = {"runs": 0, "rules": []}
    data["scatter"]["points"] = []
    data["scatter"]["trend"] = {"slope": None, "intercept": None, "r2": None}
    for key in ("median_ttf_hours", "median_contacts", "conversion_rate", "r", "slope", "r2", "pct_q1",
                "complaint_rate"):
        data["dashboard"][key] = None
    data["dashboard"]["contacts_iqr"] = None
    data["dashboard"]["coach_accounts"], data["dashboard"]["imitate_accounts"] = [], []
    for seg in data["segments"] + [data["overall"]]:
        seg["correlation"] = {"n": 0, "r": None, "slope": None, "r2": None, "code": "too_few"}
        seg["response_curve"] = {"bins": [], "shape": "none", "knee": None, "method": ""}
        seg["ttf_curve"] = None
        seg["traffic_light"] = {"colour": "red", "reasons": [], "action": None}
    return data
