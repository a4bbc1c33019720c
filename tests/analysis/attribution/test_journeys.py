"""Journeys built in the engine, on a small hand-made workspace."""

from __future__ import annotations

from datetime import datetime as dt

import numpy as np
import pytest

from levier.analysis.attribution.journeys import (
    JourneyOptions,
    path_counts,
    set_counts,
    time_decay,
    time_to_conversion,
)
from levier.analysis.attribution.rules import time_decay_weights
from levier.errors import OptionError


def _as_dict(pc):  # noqa: ANN001, ANN202
    return {">".join(p): (c, n, v) for p, c, n, v in zip(pc.paths, pc.conversions, pc.nulls, pc.value, strict=False)}


def test_paths_to_opportunity(small) -> None:  # noqa: ANN001
    got = _as_dict(path_counts(small))
    assert got == {
        "paid_search>direct>sales_email": (1, 0, 1000.0),
        "sales_call>sales_call": (0, 1, 0.0),
        "organic>email": (0, 1, 0.0),
    }


def test_paths_to_lead_from_web_only(small) -> None:  # noqa: ANN001
    got = _as_dict(path_counts(small, JourneyOptions(conversion_stage="lead", sources=("web",))))
    assert got == {"paid_search>direct": (1, 0, 1000.0), "organic>email": (0, 1, 0.0)}


def test_lookback_and_period(small) -> None:  # noqa: ANN001
    got = _as_dict(path_counts(small, JourneyOptions(lookback_days=70)))
    assert "organic>paid_search>direct>sales_email" in got
    got = _as_dict(path_counts(small, JourneyOptions(start=dt(2026, 10, 6), end=dt(2026, 11, 1))))
    assert got == {"paid_search>direct>sales_email": (1, 0, 1000.0)}
    with pytest.raises(OptionError):
        JourneyOptions(lookback_days=0)


def test_set_counts(small) -> None:  # noqa: ANN001
    got = _as_dict(set_counts(small))
    assert got["sales_call"] == (0, 1, 0.0)
    assert got["direct>paid_search>sales_email"] == (1, 0, 1000.0)


def test_time_decay_in_engine(small) -> None:  # noqa: ANN001
    r = time_decay(small, half_life_days=7)
    ages = np.array([8 + 14 / 24, 6 + 15 / 24, 5.5])
    w = time_decay_weights(ages, 7)
    assert r.credit("paid_search") == pytest.approx(w[0])
    assert r.credit("direct") == pytest.approx(w[1])
    assert r.credit("sales_email") == pytest.approx(w[2])
    assert r.value_credit("sales_email") == pytest.approx(1000 * w[2])
    assert r.credit("sales_call") == 0.0
    assert r.total_conversions == 1 and sum(r.conversions) == pytest.approx(1.0)


def test_time_to_conversion(small) -> None:  # noqa: ANN001
    ttc = time_to_conversion(small)
    assert ttc.journeys == 1
    assert ttc.median_days == pytest.approx(8 + 14 / 24)
