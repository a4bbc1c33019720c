"""Rule-based models on the reference case, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from levier.analysis.attribution.paths import PathCounts
from levier.analysis.attribution.rules import rule, rule_weights, time_decay_weights
from levier.errors import OptionError

HAND = {  # conversions credited to A, B, C (see docs/attribution.md, "reference case")
    "first": (4.0, 3.0, 1.0),
    "last": (0.0, 0.0, 8.0),
    "last_non_direct": (0.0, 0.0, 8.0),
    "linear": (1 + 0.5 + 1 / 3, 1 + 1 + 1 / 3, 1 + 1 + 0.5 + 1 + 1 / 3),
    "position": (1.2 + 0.5 + 0.2, 0.6 + 1.0 + 0.4, 1.2 + 1.0 + 0.5 + 1.0 + 0.4),
}


@pytest.mark.parametrize("model", sorted(HAND))
def test_reference_by_hand(reference: PathCounts, model: str) -> None:
    r = rule(reference, model)
    assert r.channels == ("A", "B", "C")
    assert r.conversions == pytest.approx(HAND[model], abs=1e-12)


def test_last_non_direct_skips_direct() -> None:
    pc = PathCounts.from_records([("direct>A>direct", 2, 1, 100.0), ("direct", 1, 0, 10.0), ("B>direct", 1, 0, 5.0)])
    r = rule(pc, "last_non_direct")
    assert dict(zip(r.channels, r.conversions, strict=False)) == {"A": 2.0, "B": 1.0, "direct": 1.0}
    assert dict(zip(r.channels, r.value, strict=False)) == {"A": 100.0, "B": 5.0, "direct": 10.0}


def test_position_weights() -> None:
    assert rule_weights("position", ("A",)) == pytest.approx([1.0])
    assert rule_weights("position", ("A", "B")) == pytest.approx([0.5, 0.5])
    assert rule_weights("position", ("A", "B", "C", "D")) == pytest.approx([0.4, 0.1, 0.1, 0.4])


def test_time_decay_weights_halve_every_half_life() -> None:
    w = time_decay_weights(np.array([14.0, 7.0, 0.0]), half_life_days=7)
    assert w == pytest.approx(np.array([1, 2, 4]) / 7)
    with pytest.raises(OptionError):
        time_decay_weights(np.array([1.0]), half_life_days=0)


def test_time_decay_refuses_path_counts(reference: PathCounts) -> None:
    with pytest.raises(OptionError):
        rule(reference, "time_decay")
    with pytest.raises(OptionError):
        rule(reference, "nonsense")
