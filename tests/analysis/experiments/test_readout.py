"""Read-out and decision on summary data: arms × metrics, guardrails, breakdowns, lights."""

from __future__ import annotations

import pytest
from statsmodels.stats.multitest import multipletests

from levier.analysis.experiments.decision import decide
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.readout import ReadoutOptions, read_out
from levier.analysis.experiments.statistics import ProportionStatistic
from levier.analysis.experiments.summary import parse_summary
from levier.errors import DataError
from levier.i18n import use_language

CSV = """arm,units,conversions,metric,role,direction,dimension,value
control,10000,1000,conversion,primary,higher,,
treatment,10000,1100,conversion,primary,higher,,
variant_b,10000,1030,conversion,primary,higher,,
control,10000,20,complaints,guardrail,lower,,
treatment,10000,22,complaints,guardrail,lower,,
variant_b,10000,45,complaints,guardrail,lower,,
control,9950,995,conversion,,,segment,big
treatment,9950,1095,conversion,,,segment,big
variant_b,9950,1025,conversion,,,segment,big
control,50,5,conversion,,,segment,tiny
treatment,50,5,conversion,,,segment,tiny
variant_b,50,5,conversion,,,segment,tiny
"""


def test_summary_read_out_with_corrections_guardrails_and_breakdowns() -> None:
    data = parse_summary(CSV, key="t")
    assert data.arms == ("control", "treatment", "variant_b")
    res = read_out(data, ReadoutOptions(correction="holm"))
    prim = res.primary_effects()
    raw = [ttest(ProportionStatistic(10000, 1000), ProportionStatistic(10000, s)).p_value for s in (1100, 1030)]
    assert [e.p_adjusted for e in prim] == pytest.approx(multipletests(raw, method="holm")[1])
    g = {x.arm: x for x in res.guardrails}
    assert g["variant_b"].status == "breach" and g["treatment"].status == "watch"
    tiny = [b for b in res.breakdowns if b.value == "tiny"]
    assert tiny and all("small_sample" in b.warnings for b in tiny)
    d = decide(res, target=0.05, lang="en")
    assert d.light == "red" and d.action == "stop"
    assert any(c == "guardrail_breach" for c, _m in d.reasons)
    assert res.to_frame().shape[0] == len(res.effects) + len(res.breakdowns) + len(res.guardrails)


def _two_arms(c: int, t: int) -> str:
    return f"arm;units;conversions\ncontrol;10000;{c}\ntreatment;10000;{t}\n"


@pytest.mark.parametrize(
    ("treated", "light", "code"),
    [(1150, "green", "win"), (1060, "amber", "inconclusive_no_traffic"), (880, "red", "harm")],
)
def test_traffic_light(treated: int, light: str, code: str) -> None:
    res = read_out(parse_summary(_two_arms(1000, treated)))
    d = decide(res, target=0.1, lang="fr")
    assert d.light == light and code in [c for c, _m in d.reasons]
    assert d.learning["light"] == light and d.learning["experiment_key"] == "summary"


def test_below_target_is_amber_and_bayesian_engine() -> None:
    res = read_out(parse_summary(_two_arms(1000, 1100)), ReadoutOptions(engine="bayesian"))
    assert res.effects[0].chance_to_win == pytest.approx(0.9860609, abs=1e-7)
    assert decide(res, target=0.2).light == "amber"
    assert decide(res, target=0.1).light == "green"


def test_srm_blocks_shipping() -> None:
    res = read_out(parse_summary("arm,units,conversions\ncontrol,10000,1000\ntreatment,11000,1400\n"))
    d = decide(res, target=0.1)
    assert res.srm.mismatch and d.light == "amber" and "srm" in [c for c, _m in d.reasons]


def test_degenerate_summary_is_a_code_not_an_exception() -> None:
    res = read_out(parse_summary(_two_arms(0, 0)))
    assert res.effects[0].code == "no_conversions"
    assert decide(res).light == "amber"


def test_means_and_cuped_from_summary() -> None:
    text = ("arm,units,sum,sum_squares,covariate_sum,covariate_sum_squares,cross_sum\n"
            "control,1000,10000,110000,5000,29000,52000\ntreatment,1000,10500,120000,5000,29000,54500\n")
    res = read_out(parse_summary(text), ReadoutOptions(difference="absolute"))
    assert res.effects[0].ok and res.effects[0].theta is not None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("arm,conversions\na,1\n", "missing column 'units'"),
     ("arm,units,conversions\na,10,20\nb,10,1\n", "row 2"),
     ("arm,units,conversions\na,10,x\nb,10,1\n", "must be a number"),
     ("arm,units,conversions\na,10,1\n", "at least two arms")],
)
def test_summary_errors_name_row_and_column(text: str, fragment: str) -> None:
    with use_language("en"), pytest.raises(DataError, match=fragment):
        parse_summary(text)
