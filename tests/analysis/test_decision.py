"""Traffic-light rules case by case: inputs → colour + reason codes (ADR 0042)."""

from __future__ import annotations

import pytest

from levier.analysis.decision import DecisionThresholds, decide
from levier.analysis.stats import Correlation, TwoProportion


def corr(r: float | None, ci: tuple[float, float] | None = None, code: str = "ok") -> Correlation:
    if r is None:
        return Correlation(100, None, None, None, None, None, None, None, None, None, code)
    return Correlation(500, r, ci or (r - 0.05, r + 0.05), 0.01, None, 0.1, None, r * r, 0.001, None, "ok")


STABLE = TwoProportion(0.001, 0.001, 0.0, 0.0, 0.9, "ok")
RISING = TwoProportion(0.004, 0.001, 0.003, 3.0, 0.002, "ok")
FALLING = TwoProportion(0.001, 0.004, -0.003, -3.0, 0.002, "ok")

CASES = [
    # r, ci, n, ΔCR, complaints, heterogeneous → colour, reason codes
    (0.31, None, 500, 2.4, STABLE, False, "green", ["r_high", "delta_cr_ok", "complaints_stable"]),
    (0.31, None, 500, 1.0, STABLE, False, "amber", ["r_high", "delta_cr_low", "complaints_stable"]),
    (0.31, None, 500, None, None, False, "amber", ["r_high", "delta_cr_unknown"]),
    (0.31, None, 500, 3.0, STABLE, True, "amber", ["r_high", "delta_cr_ok", "complaints_stable", "heterogeneous"]),
    (0.18, None, 500, 5.0, STABLE, False, "amber", ["r_moderate", "delta_cr_ok", "complaints_stable"]),
    (0.05, None, 500, 5.0, STABLE, False, "red", ["r_zero"]),
    (0.12, (-0.01, 0.25), 500, 5.0, STABLE, False, "red", ["r_zero"]),
    (-0.2, None, 500, 0.0, STABLE, False, "red", ["r_negative"]),
    (0.31, None, 500, 4.0, RISING, False, "red", ["complaints_rising"]),
    (0.31, None, 500, 4.0, FALLING, False, "green", ["r_high", "delta_cr_ok", "complaints_falling"]),
    (0.05, None, 500, 4.0, RISING, False, "red", ["complaints_rising", "r_zero"]),
    (0.40, None, 20, 4.0, STABLE, False, "grey", ["too_few"]),
    (None, None, 500, 4.0, STABLE, False, "grey", ["r_undefined"]),
]


@pytest.mark.parametrize(("r", "ci", "n", "delta", "complaints", "het", "colour", "codes"), CASES)
def test_traffic_light_table(r, ci, n, delta, complaints, het, colour, codes) -> None:  # noqa: ANN001
    light = decide(corr(r, ci, "zero_variance" if r is None else "ok"), n=n, delta_cr_points=delta, complaint_test=complaints, heterogeneous=het)
    assert light.colour == colour
    assert [x.code for x in light.reasons] == codes
    d = light.to_dict("en")
    assert len(d["reasons"]) == len(codes) and d["action"]


def test_reasons_are_spelled_out_in_both_languages() -> None:
    light = decide(corr(0.31), n=500, delta_cr_points=2.4, complaint_test=STABLE)
    assert light.to_dict("en")["reasons"] == ["r = 0.31 ≥ 0.25", "ΔCR = +2.4 pts ≥ +2", "complaints stable (p = 0.90)"]
    fr = light.to_dict("fr")
    assert fr["reasons"] == ["r = 0,31 ≥ 0,25", "ΔTC = +2,4 pts ≥ +2", "plaintes stables (p = 0,90)"]
    assert fr["action"] == "déployer largement"


def test_french_reasons_write_negative_numbers_and_percentages_the_french_way() -> None:
    light = decide(corr(-0.2134), n=500, delta_cr_points=-0.8, complaint_test=STABLE)
    assert light.to_dict("fr")["reasons"][0].startswith("r = −0,21 ≤ −0,1")
    assert light.to_dict("en")["reasons"][0].startswith("r = -0.21 ≤ −0.1")


def test_thresholds_are_configurable() -> None:
    th = DecisionThresholds(r_green=0.4, delta_cr_points=1.0)
    assert decide(corr(0.31), n=500, delta_cr_points=2.4, complaint_test=STABLE, th=th).colour == "amber"
    assert decide(corr(0.45), n=500, delta_cr_points=1.5, complaint_test=STABLE, th=th).colour == "green"
