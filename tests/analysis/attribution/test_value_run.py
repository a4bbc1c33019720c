"""Side-by-side attribution, path CSV input and channel value / ROI."""

from __future__ import annotations

from datetime import date
from datetime import datetime as dt
from pathlib import Path

import pytest
from tests.analysis.attribution.conftest import REFERENCE, insert

from levier.analysis.attribution.paths import read_paths_csv
from levier.analysis.attribution.run import attribute, attribute_paths, check_models
from levier.analysis.attribution.value import channel_value, spend_by_channel
from levier.errors import DataError, OptionError
from levier.i18n import use_language


def _csv(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "paths.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_paths_csv_reference(tmp_path: Path) -> None:
    body = "path,conversions,nulls,value\n" + "".join(f"{p},{c},{n},{10 * c}\n" for p, c, n in REFERENCE)
    cmp = attribute_paths(_csv(tmp_path, body), ["markov", "first", "shapley"])
    frame = cmp.to_frame()
    assert list(frame.columns) == ["channel", "markov", "first", "shapley"]
    assert frame["markov"].round(4).tolist() == [1.7861, 2.4264, 3.7875]
    assert cmp.to_frame("value")["first"].tolist() == [40.0, 30.0, 10.0]
    assert cmp.to_dict()["source"]["journeys"] == 20


def test_paths_csv_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    pc = read_paths_csv(_csv(tmp_path, "Path;Conversions;Nulls;Value\nA > B;2;3;1 234,5\nA>B;1;0;\n"))
    assert pc.paths == (("A", "B"),) and pc.conversions.tolist() == [3.0] and pc.value.tolist() == [1234.5]


@pytest.mark.parametrize(("text", "where"), [
    ("path,conversions\nA,1\n", "nulls"),
    ("path,conversions,nulls\nA,1,x\n", "row 2, column 'nulls'"),
    ("path,conversions,nulls\nA,1,0\n,1,0\n", "row 3, column 'path'"),
    ("path,conversions,nulls\nA,-1,0\n", "row 2, column 'conversions'"),
    ("path,conversions,nulls,value\nA,1,0,abc\n", "row 2, column 'value'"),
])
def test_paths_csv_errors_name_row_and_column(tmp_path: Path, text: str, where: str) -> None:
    with use_language("en"), pytest.raises(DataError) as err:
        read_paths_csv(_csv(tmp_path, text))
    assert where in str(err.value)


def test_unknown_model_and_time_decay_on_paths(tmp_path: Path) -> None:
    with pytest.raises(OptionError):
        check_models(["markof"])
    assert check_models(["position_based", "last"]) == ("position", "last")
    with pytest.raises(OptionError):
        attribute_paths(_csv(tmp_path, "path,conversions,nulls\nA,1,0\n"), ["time_decay"])


def test_attribute_workspace_all_models(small) -> None:  # noqa: ANN001
    cmp = attribute(small, ["first", "last", "last_non_direct", "linear", "time_decay", "position", "markov", "shapley"])
    frame = cmp.to_frame().set_index("channel")
    assert frame.sum().round(9).tolist() == [1.0] * 8
    assert frame.loc["paid_search", "first"] == 1.0
    assert frame.loc["sales_email", "last"] == 1.0
    assert frame.loc["paid_search", "shapley"] == pytest.approx(1 / 3)


def test_channel_value(small) -> None:  # noqa: ANN001
    insert(small, "stage_events", [{"lead_id": "L1", "stage": "sql", "at": dt(2026, 10, 5)},
                                   {"lead_id": "L1", "stage": "won", "at": dt(2026, 10, 20)}])
    small.facts.con.raw_sql("UPDATE deals SET won = true")
    insert(small, "spend", [{"date": date(2026, 10, 1), "source": "google_ads", "campaign_id": "brand", "cost": 100.0},
                            {"date": date(2026, 10, 2), "source": "Brevo", "campaign_id": "nl", "cost": 10.0},
                            {"date": date(2026, 10, 2), "source": "radio", "cost": 50.0}])
    assert spend_by_channel(small) == {"paid_search": 100.0, "email": 10.0, "radio": 50.0}
    table = channel_value(small, ["last", "linear"])
    rows = {(r.model, r.channel): r for r in table.rows}
    ps = rows[("linear", "paid_search")]
    assert (ps.leads, ps.qualified, ps.customers) == pytest.approx((0.5, 1 / 3, 1 / 3))
    assert (ps.cpl, ps.cplq, ps.cac) == pytest.approx((200.0, 300.0, 300.0))
    assert ps.roas == pytest.approx(1000 / 3 / 100) and ps.romi == pytest.approx((1000 / 3 - 100) / 100)
    assert rows[("last", "paid_search")].cpl is None
    assert rows[("last", "sales_email")].revenue == 1000.0
    assert table.unattributed_spend == {"radio": 50.0}
    assert len(table.to_frame()) == len(table.rows)
