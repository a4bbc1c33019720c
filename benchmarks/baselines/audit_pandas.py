"""A straightforward pandas implementation of the audit's core figures (the benchmark baseline).

Reads the demo Parquet files whole, builds the per-lead facts with merges, then computes, overall
and per (channel, company_size): n, CR, contacts median/IQR/mean, TTF median/p90/share within
2 h, Pearson r / slope / intercept / R² (scipy.stats.linregress), Spearman, quadrants, the
sensitivity without the top 1 %, the response curve with Wilson intervals, per-account totals.
Usage: python audit_pandas.py DATA_DIR 2026-10-01 2026-11-01
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint


def per_lead(data: str, start: str, end: str, window_days: int = 30) -> pd.DataFrame:
    leads = pd.read_parquet(f"{data}/leads.parquet", columns=["lead_id", "account_id", "created_at", "channel", "company_size"])
    leads = leads[(leads.created_at >= start) & (leads.created_at < end)]
    st = pd.read_parquet(f"{data}/stage_events.parquet")
    st = st[st.stage == "opportunity"].merge(leads[["lead_id", "created_at"]], on="lead_id")
    win = pd.Timedelta(days=window_days)
    st = st[(st["at"] >= st.created_at) & (st["at"] < st.created_at + win)]
    conv = st.groupby("lead_id")["at"].min().rename("conv_at")
    leads = leads.merge(conv, on="lead_id", how="left")
    leads["converted"] = leads.conv_at.notna().astype(int)
    leads["horizon"] = leads.conv_at.fillna(leads.created_at + win)
    t = pd.read_parquet(f"{data}/touches.parquet", columns=["lead_id", "at", "direction", "outcome"])
    t = t[t.direction == "out"].merge(leads[["lead_id", "created_at", "horizon"]], on="lead_id")
    t = t[(t["at"] >= t.created_at) & (t["at"] < t.horizon)]
    agg = t.groupby("lead_id").agg(x=("at", "size"), first_at=("at", "min"), complaints=("outcome", lambda s: (s == "complaint").sum()))
    leads = leads.merge(agg, on="lead_id", how="left")
    leads["x"] = leads.x.fillna(0)
    leads["ttf_h"] = (leads.first_at - leads.created_at).dt.total_seconds() / 3600
    return leads


def figures(d: pd.DataFrame) -> dict:
    x, y = d.x.to_numpy(float), d.converted.to_numpy(float)
    out = {"n": len(d), "cr": y.mean(), "median": np.median(x), "q1": np.quantile(x, 0.25), "q3": np.quantile(x, 0.75), "mean": x.mean()}
    ttf = d.ttf_h.dropna()
    out.update(ttf_median=ttf.median(), ttf_p90=ttf.quantile(0.9), within=(ttf < 2).mean())
    if np.ptp(x) > 0 and np.ptp(y) > 0:
        lr = stats.linregress(x, y)
        out.update(r=lr.rvalue, slope=lr.slope, intercept=lr.intercept, r2=lr.rvalue**2, spearman=stats.spearmanr(x, y).statistic)
        cut = np.quantile(x, 0.99)
        keep = x <= cut
        out["r_trim"] = stats.pearsonr(x[keep], y[keep]).statistic
    hx, hy = x > x.mean(), y > y.mean()
    out["quadrants"] = [int((hx & hy).sum()), int((~hx & hy).sum()), int((~hx & ~hy).sum()), int((hx & ~hy).sum())]
    curve = d.groupby("x")["converted"].agg(["size", "sum"])
    lo, hi = proportion_confint(curve["sum"], curve["size"], method="wilson")
    out["curve"] = len(curve)
    return out


def main() -> None:
    data, start, end = sys.argv[1:4]
    d = per_lead(data, start, end)
    res = {"overall": figures(d)}
    for key, g in d.groupby(["channel", "company_size"]):
        res["/".join(key)] = figures(g)
    acc = d.groupby("account_id").agg(leads=("lead_id", "size"), touches=("x", "sum"), conv=("converted", "sum"))
    res["accounts"] = len(acc)
    print(json.dumps({k: (v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk in ("n", "r")}) for k, v in res.items()}, default=float)[:200], file=sys.stderr)


if __name__ == "__main__":
    main()
