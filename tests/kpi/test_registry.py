"""Registry: catalogue + custom KPIs, validation errors, one owner, North Star, targets, OKRs."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from levier.analysis.kpis import KPIS
from levier.errors import ConflictError, FormulaError, OptionError, RuleError
from levier.kpi import formula, registry


def test_catalogue_is_listed_with_defaults(s: Session) -> None:
    got = {e.key: e for e in registry.list_kpis(s)}
    assert set(KPIS) <= set(got)
    assert got["ttf_hours"].direction == "decrease" and got["ttf_hours"].aarrr == ("activation",)
    assert got["lead"].vanity and got["lead"].counterpart == "conversion_rate"
    assert got["conversion_rate"].settle_days == 31 and got["spend"].settle_days == 0


@pytest.mark.parametrize(("text", "needle"), [
    ("count(leads", "syntax error"),
    ("count(lead)", "unknown table 'lead'"),
    ("sum(deals.amout)", "unknown column 'amout' in table deals"),
    ("count(touches, outcom == 'replied')", "unknown column 'outcom' in table touches"),
    ("sum(leads.channel)", "needs a numeric column"),
    ("__import__('os')", "unknown function '__import__'"),
    ("count(leads).bit_length", "only numbers, aggregates"),
    ("1 + 2", "at least one aggregate"),
    ("count(touches, outcome == other)", "expected a literal"),
    ("count(touches, at=outcome)", "at= needs a date or timestamp column"),
    ("", "empty"),
])
def test_bad_formulas_give_clear_errors(text: str, needle: str) -> None:
    with pytest.raises(FormulaError) as err:
        formula.parse(text)
    assert needle in str(err.value)
    assert "Example:" in str(err.value)  # the hint shows how to write one


def test_good_formula_parses() -> None:
    f = formula.parse("count(touches, outcome == 'meeting_booked' and direction == 'out') / nunique(touches.lead_id, at=at)")
    assert f.tables == ("touches",) and len(f.terms) == 2 and f.segmentable
    assert not formula.parse("sum(spend.cost) / count(leads)").segmentable


def test_define_update_and_one_owner(s: Session) -> None:
    e = registry.define_kpi(s, "meetings_per_lead", "count(touches, outcome == 'meeting_booked') / count(leads)", owner="ana",
                            kind="impact", aarrr=["activation"], frequency="weekly")
    assert e.source == "custom" and e.owner == "ana" and e.tables == ("leads", "touches")
    with pytest.raises(RuleError, match="exactly one owner; got 2: ana, bo"):
        registry.update_kpi(s, "meetings_per_lead", owner="ana, bo")
    with pytest.raises(RuleError, match="exactly one owner"):
        registry.define_kpi(s, "x2", "count(leads)", owner=["ana", "bo"])
    with pytest.raises(ConflictError):
        registry.define_kpi(s, "conversion_rate", "count(leads)")
    with pytest.raises(FormulaError, match="unknown column"):
        registry.define_kpi(s, "x3", "sum(deals.amout)")
    with pytest.raises(OptionError, match="kind"):
        registry.update_kpi(s, "conversion_rate", kind="vanity")
    assert registry.update_kpi(s, "conversion_rate", owner="bo", frequency="weekly").owner == "bo"
    with pytest.raises(RuleError, match="catalogue"):
        registry.update_kpi(s, "conversion_rate", formula="count(leads)")


def test_one_north_star(s: Session) -> None:
    registry.set_north_star(s, "conversion_rate")
    registry.set_north_star(s, "win_rate")
    assert [e.key for e in registry.list_kpis(s) if e.north_star] == ["win_rate"]
    assert registry.north_star(s).key == "win_rate"  # type: ignore[union-attr]


def test_targets_and_okrs(s: Session) -> None:
    t = registry.set_target(s, "conversion_rate", 0.2, "2026-12-31", baseline=0.15, segment={"channel": "inbound"})
    assert registry.get_kpi(s, "conversion_rate").targets[0].id == t.id
    with pytest.raises(OptionError, match="does not improve"):
        registry.set_target(s, "ttf_hours", 5, "2026-12-31", baseline=2)
    with pytest.raises(OptionError, match="segment"):
        registry.set_target(s, "ttf_hours", 1, "2026-12-31", segment={"colour": "red"})
    with pytest.raises(RuleError, match="2 to 5"):
        registry.create_objective(s, "Grow", [{"kpi": "win_rate", "value": 0.3, "deadline": "2026-12-31"}])
    okr = registry.create_objective(s, "Faster, better pipeline", owner="ana", period="2026-Q4", key_results=[
        {"kpi": "ttf_hours", "value": 1.0, "deadline": "2026-12-31", "baseline": 3.0},
        {"kpi": "win_rate", "value": 0.3, "deadline": "2026-12-31", "baseline": 0.2}])
    assert [kr["kpi_key"] for kr in okr["key_results"]] == ["ttf_hours", "win_rate"] and okr["owner"] == "ana"
    tgt = registry.list_targets(s, "ttf_hours")[0]
    assert registry.kr_progress(2.0, tgt) == pytest.approx(0.5)
    assert registry.kr_progress(0.5, tgt) == 1.0
