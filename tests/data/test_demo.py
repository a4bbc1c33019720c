"""The demo data generator: determinism, schema, contract invariants, ground truth, defects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from levier.data.demo import generate
from levier.data.schema import TABLES
from levier.errors import OptionError

EXTRACTION = pd.Timestamp("2026-11-01")
ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "boolean": pa.bool_(),
         "timestamp": pa.timestamp("us"), "date": pa.date32()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    generate(out, leads=4000, seed=11)
    return out, json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))


def _read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{name}.parquet")


def _defect_ids(truth: dict) -> set[str]:
    return {i for k, d in truth["defects"].items() if d["table"] == "touches" for i in d["ids"]}


def test_same_leads_and_seed_give_byte_identical_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate(out, leads=600, seed=seed)
    names = sorted(p.name for p in a.iterdir())
    assert len(names) == 9
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    assert (a / "touches.parquet").read_bytes() != (c / "touches.parquet").read_bytes()


@pytest.mark.parametrize("name", list(TABLES))
def test_every_file_has_exactly_the_canonical_columns_and_types(demo: tuple[Path, dict], name: str) -> None:
    out, truth = demo
    schema = pq.read_schema(out / f"{name}.parquet")
    expected = pa.schema([pa.field(c.name, ARROW[c.dtype]) for c in TABLES[name].columns])
    assert schema.remove_metadata() == expected
    df = _read(out, name)
    assert len(df) == truth["rows"][name] > 0
    assert not df.duplicated(list(TABLES[name].key)).any()
    for col in TABLES[name].columns:
        if col.required:
            assert df[col.name].notna().all(), col.name
        if col.allowed:
            assert set(df[col.name].dropna()) <= set(col.allowed), col.name


def test_csv_format_has_canonical_header_and_plain_timestamps(tmp_path: Path) -> None:
    summary = generate(tmp_path, leads=300, seed=1, fmt="csv")
    header = (tmp_path / "touches.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert header[0] == ",".join(f'"{c}"' for c in TABLES["touches"].column_names)
    assert header[1].split(",")[2].strip('"')[10:] and len(header[1].split(",")[2].strip('"')) == 19
    assert summary.files["spend"].name == "spend.csv" and summary.rows["leads"] == 300


def test_invalid_options_raise_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--leads"):
        generate(tmp_path, leads=10)
    with pytest.raises(OptionError, match="--format"):
        generate(tmp_path, leads=500, fmt="xlsx")


def test_orphans_future_and_impossible_values_are_exactly_the_listed_ids(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    d = truth["defects"]
    leads, touches, deals = _read(out, "leads"), _read(out, "touches"), _read(out, "deals")
    for key, entry in d.items():
        assert entry["count"] == len(entry["ids"]) == len(set(entry["ids"])) > 0, key
    assert set(touches.loc[~touches.lead_id.isin(leads.lead_id), "touch_id"]) == set(d["orphan_touches"]["ids"])
    assert set(touches.loc[touches["at"] >= EXTRACTION, "touch_id"]) == set(d["future_touches"]["ids"])
    parts = d["impossible_values"]["details"]
    assert set(deals.loc[deals.amount < 0, "deal_id"]) == set(parts["negative_amount"]["ids"])
    assert set(leads.loc[leads.score > 100, "lead_id"]) == set(parts["score_over_100"]["ids"])
    assert set(leads.loc[leads.created_at < "2000-01-01", "lead_id"]) == set(parts["created_before_2000"]["ids"])
    assert d["impossible_values"]["count"] == sum(len(p["ids"]) for p in parts.values())


def test_duplicate_copies_match_an_original(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    t = _read(out, "touches")
    cols = ["lead_id", "at", "channel", "direction", "owner", "outcome", "campaign_id"]
    dup_mask = t.duplicated(cols, keep=False)
    exact = set(truth["defects"]["exact_duplicates"]["ids"])
    assert exact <= set(t.loc[dup_mask, "touch_id"])
    assert t[dup_mask].shape[0] == 2 * len(exact)  # each copy pairs with exactly one original
    near = t[t.touch_id.isin(truth["defects"]["near_duplicates"]["ids"])]
    merged = near.merge(t, on=["lead_id", "channel", "owner", "outcome"], suffixes=("", "_o"))
    gap = (merged["at"] - merged["at_o"]).dt.total_seconds()
    assert merged[(gap >= 1) & (gap <= 30)].touch_id.nunique() == len(near)
    # no other pair of touches of a lead on one channel is closer than 60 s
    s = t.sort_values(["lead_id", "channel", "at"])
    close = (s.lead_id == s.lead_id.shift()) & (s.channel == s.channel.shift()) & (s["at"].diff().dt.total_seconds() < 60)
    flagged = set(s.loc[close, "touch_id"]) | set(s.loc[close.shift(-1, fill_value=False), "touch_id"])
    copies = exact | set(near.touch_id)
    assert {x for x in flagged if x in copies} == copies
    originals = flagged - copies - set(truth["defects"]["hyperactive_rep"]["ids"])
    assert len(originals) == len(copies)


def test_touches_after_opt_out_are_exactly_the_listed_ids(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    t = _read(out, "touches").merge(_read(out, "leads")[["lead_id", "opted_out_at"]], on="lead_id")
    after = t[(t.direction == "out") & t.opted_out_at.notna() & (t["at"] > t.opted_out_at)]
    assert set(after.touch_id) == set(truth["defects"]["touches_after_opt_out"]["ids"])


def test_timezone_shift_and_hyperactive_rep(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    t = _read(out, "touches")
    tz = truth["defects"]["timezone_shift"]
    shifted = t[t.touch_id.isin(tz["ids"])]
    lo, hi = pd.Timestamp(tz["details"]["week_from"]), pd.Timestamp(tz["details"]["week_to"])
    assert (shifted.owner == tz["details"]["owner"]).all()
    true_at = shifted["at"] + pd.Timedelta(hours=2)
    assert ((true_at >= lo) & (true_at < hi)).all()
    same = t[(t.owner == tz["details"]["owner"]) & (t["at"] >= lo) & (t["at"] < hi - pd.Timedelta(hours=2))]
    assert set(same.touch_id) <= set(tz["ids"]) | _defect_ids(truth) - set(tz["ids"])
    created = _read(out, "leads").set_index("lead_id").created_at
    assert (shifted["at"].to_numpy() < created.reindex(shifted.lead_id).to_numpy()).sum() >= 5
    hyper = truth["defects"]["hyperactive_rep"]
    per_day = hyper["details"]["per_day"]
    assert len(per_day) == 3 and all(300 <= n <= 500 for n in per_day.values())
    h = t[t.touch_id.isin(hyper["ids"])]
    assert (h.owner == hyper["details"]["owner"]).all() and (h.direction == "out").all()
    assert h.groupby(h["at"].dt.strftime("%Y-%m-%d")).size().to_dict() == per_day


def _clean(out: Path, truth: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leads with their conversion time, and the legitimate touches (tz shift repaired)."""
    leads = _read(out, "leads").set_index("lead_id")
    bad = truth["defects"]["impossible_values"]["details"]["created_before_2000"]["ids"]
    leads = leads.drop(index=bad)
    s = _read(out, "stage_events")
    leads["conv_at"] = s[s.stage == "opportunity"].groupby("lead_id")["at"].min()
    t = _read(out, "touches")
    tz = t.touch_id.isin(truth["defects"]["timezone_shift"]["ids"])
    t.loc[tz, "at"] = t.loc[tz, "at"] + pd.Timedelta(hours=2)
    # touches after an opt-out are real cadence touches (a compliance defect): they count
    kept = set(truth["defects"]["timezone_shift"]["ids"]) | set(truth["defects"]["touches_after_opt_out"]["ids"])
    t = t[~t.touch_id.isin(_defect_ids(truth) - kept) & t.lead_id.isin(leads.index)]
    return leads, t.join(leads[["created_at", "conv_at"]], on="lead_id")


def test_contract_invariants_on_legitimate_rows(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    leads, t = _clean(out, truth)
    cad = t[t.direction == "out"]
    assert (cad["at"] >= cad.created_at).all()
    assert (cad["at"] < cad.created_at + pd.Timedelta(days=21)).all()
    conv = cad[cad.conv_at.notna()]
    assert (conv["at"] < conv.conv_at).all()
    c = leads[leads.conv_at.notna()]
    assert (c.conv_at <= c.created_at + pd.Timedelta(days=30)).all()
    lag = (c.conv_at - cad.groupby("lead_id")["at"].max().reindex(c.index)).dt.total_seconds() / 86400
    assert lag.between(1, 5).all()
    assert (t["at"] < EXTRACTION).all()
    for name, col in (("stage_events", "at"), ("web_events", "at"), ("orders", "at"), ("assignments", "assigned_at"),
                      ("deals", "created_at"), ("deals", "closed_at")):
        assert (_read(out, name)[col].dropna() < EXTRACTION).all(), name
    assert (pd.to_datetime(_read(out, "spend")["date"]) < EXTRACTION).all()


def test_stage_events_are_ordered_and_deals_follow_opportunities(demo: tuple[Path, dict]) -> None:
    out, _truth = demo
    s = _read(out, "stage_events")
    order = {"lead": 0, "mql": 1, "sql": 2, "opportunity": 3, "won": 4, "lost": 4}
    s = s.assign(rank=s.stage.map(order)).sort_values(["lead_id", "rank"])
    same = s.lead_id == s.lead_id.shift()
    assert (s.loc[same, "at"].to_numpy() > s["at"].shift().loc[same].to_numpy()).all()
    deals = _read(out, "deals")
    opp = s[s.stage == "opportunity"].set_index("lead_id")["at"]
    assert set(deals.lead_id) == set(opp.index)
    assert (deals.set_index("lead_id").created_at == opp.reindex(deals.lead_id)).all()
    closed = deals.closed_at.notna()
    assert (deals.won.notna() == closed).all() and (deals.loc[closed, "closed_at"] > deals.loc[closed, "created_at"]).all()
    orders = _read(out, "orders")
    assert set(orders.account_id) <= set(deals.loc[deals.won == True, "account_id"])  # noqa: E712


def test_touch_counts_in_window_equal_the_ground_truth_tally(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    leads, t = _clean(out, truth)
    end = leads.conv_at.where(leads.conv_at.notna(), leads.created_at + pd.Timedelta(days=30))
    cad = t[(t.direction == "out") & (t["at"] < end.reindex(t.lead_id).to_numpy())]
    k = cad.groupby("lead_id").size().reindex(leads.index, fill_value=0).clip(upper=20)
    assign = _read(out, "assignments").unit_id
    mature = leads[(leads.created_at < "2026-10-01") & ~leads.vip & ~leads.index.isin(assign)]
    seg = mature.channel + "/" + mature.company_size
    counts = pd.crosstab(seg, k.reindex(mature.index))
    expected = truth["recovered_in_this_data_set"]["conversion_by_touches"]
    for name, rows in expected.items():
        for kk, row in rows.items():
            assert counts.loc[name, int(kk)] == row["leads"], (name, kk)


def _binned(out: Path, truth: dict) -> pd.DataFrame:
    leads, t = _clean(out, truth)
    cad = t[t.direction == "out"]
    leads["k"] = cad.groupby("lead_id").size().reindex(leads.index, fill_value=0)
    leads["first"] = cad.groupby("lead_id")["at"].min()
    leads["converted"] = leads.conv_at.notna()
    return leads[(leads.created_at < "2026-10-01") & ~leads.vip]


def test_ground_truth_shapes_are_visible_in_the_data(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    m = _binned(out, truth)
    smb = m[(m.channel == "inbound") & (m.company_size == "smb")]
    at6, at10 = smb[smb.k.between(6, 8)].converted.mean(), smb[smb.k >= 10].converted.mean()
    low = smb[smb.k.between(1, 3)].converted.mean()
    assert abs(at10 - at6) < 0.07 and at6 > low + 0.10  # rises, then plateaus after ~6 touches
    ent = m[(m.channel == "outbound") & (m.company_size == "enterprise")]
    lo, hi = ent[ent.k.between(1, 4)].converted.mean(), ent[ent.k >= 10].converted.mean()
    assert lo < 0.08 and hi > 0.25  # S-curve: low, then high
    inbound = m[(m.channel == "inbound") & m["first"].notna()]
    fast = (inbound["first"] - inbound.created_at) <= pd.Timedelta(hours=2)
    assert inbound[fast].converted.mean() > 1.2 * inbound[~fast].converted.mean()
    ttf = truth["recovered_in_this_data_set"]["inbound_ttf"]
    assert ttf["within_2h"]["expected_cr"] / ttf["after_2h"]["expected_cr"] > 1.3


def test_vip_cluster_and_rep_multipliers(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    leads, t = _clean(out, truth)
    vip = leads[leads.vip]
    assert vip.account_id.nunique() <= 5 and len(vip) >= 10
    assert (vip.channel == "partner").all() and (vip.company_size == "enterprise").all()
    touched = vip[vip.index.isin(t.lead_id)]
    assert touched.conv_at.notna().mean() > 0.4 > leads[~leads.vip].conv_at.notna().mean()
    assert t[t.lead_id.isin(vip.index) & (t.direction == "out")].groupby("lead_id").size().max() <= 3
    mults = {r["conversion_multiplier"] for r in truth["reps"]}
    assert len(mults) >= 3 and len({r["cadence_days"] for r in truth["reps"]}) >= 2


def test_complaints_opt_outs_and_experiment(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    leads = _read(out, "leads")
    t = _read(out, "touches").merge(leads[["lead_id", "company_size"]].rename(columns={"company_size": "size"}), on="lead_id")
    emails = t[(t.channel == "email") & (t.direction == "out")]
    rate = (emails.outcome == "complaint").mean()
    assert 0.0005 < rate < 0.004
    assert (t.outcome == "unsubscribed").sum() > 0 and leads.opted_out_at.notna().sum() > 0
    a = _read(out, "assignments")
    october = leads[(leads.created_at >= "2026-10-01") & (leads.created_at < "2026-11-01")]
    bad = set(truth["defects"]["impossible_values"]["details"]["created_before_2000"]["ids"])
    assert set(a.unit_id) - bad == set(october.lead_id) - bad
    assert (a.experiment_key == "subject-line-2026-10").all()
    assert 0.4 < (a.variant == "treatment").mean() < 0.6
    exp = truth["experiment"]
    assert exp["true_relative_uplift"] == 0.2 and 0.15 < exp["expected_relative_uplift_after_cap"] <= 0.2


def test_journeys_follow_the_documented_markov_chain(demo: tuple[Path, dict]) -> None:
    out, truth = demo
    w = _read(out, "web_events").sort_values(["anonymous_id", "at", "event_id"])
    j = truth["journeys"]
    to_state = {k: v for k, v in j["session_channel_from_utm_medium"].items() if k != "(null)"}
    landing = w[(w.type == "page_view") & (w.referrer.fillna("") != "www.levier-demo.fr")]
    state = landing.utm_medium.map(to_state).fillna("direct")
    prev = state.groupby(landing.anonymous_id).shift().fillna("start")
    counts = pd.crosstab(prev, state)
    converted = set(w.loc[w.type == "form_submit", "anonymous_id"])
    last = state.groupby(landing.anonymous_id).last()
    end = pd.Series(np.where(last.index.isin(converted), "conversion", "null"), index=last.index)
    ends = pd.crosstab(last, end)
    truth_counts = truth["recovered_in_this_data_set"]["journey_transition_counts"]
    for src, row in truth_counts.items():
        for dst, n in row.items():
            table = ends if dst in ("conversion", "null") else counts
            got = int(table.loc[src, dst]) if src in table.index and dst in table.columns else 0
            assert got == n, (src, dst)
    # stitched: every form_submit belongs to an inbound lead created at that instant
    leads = _read(out, "leads").set_index("lead_id")
    sub = w[w.type == "form_submit"]
    assert sub.lead_id.notna().all() and (leads.loc[sub.lead_id, "channel"] == "inbound").all()
    assert (leads.loc[sub.lead_id, "created_at"].to_numpy() == sub["at"].to_numpy()).sum() >= len(sub) - 5
    spend = _read(out, "spend")
    assert set(spend.source) == {"google_ads", "linkedin_ads", "brevo"} and (spend.cost > 0).all()


def test_cli_demo_data_json(runner, tmp_path: Path) -> None:  # noqa: ANN001
    from levier.cli import app

    result = runner.invoke(app, ["demo-data", "--leads", "300", "--seed", "2", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rows"]["leads"] == 300 and set(payload["files"]) == set(TABLES)
    bad = runner.invoke(app, ["demo-data", "--leads", "300", "--format", "xml", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "--format" in bad.output


def test_reps_beyond_the_name_pool_stay_unique() -> None:
    """10M leads need 12,500 reps, more than the 1,600 names: homonyms are numbered, nothing repeats."""
    from levier.data.demo import truth as T

    small = T.build_reps(100_000, np.random.default_rng(7))
    big = T.build_reps(10_000_000, np.random.default_rng(7))
    assert len(big) == 12_500 and len({r.owner for r in big}) == 12_500
    assert [r.owner for r in big[: len(small)]] == [r.owner for r in small]  # same names where the pool suffices
    assert big[1_600].owner.endswith(" 2") and big[3_200].owner.endswith(" 3") and not big[1_599].owner[-1].isdigit()
