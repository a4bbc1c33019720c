"""Interpretable lead scoring: L2-regularised logistic regression on engine-aggregated patterns.

Features per lead (computed in the engine, first ``behaviour_days`` after creation only, so
nothing after the outcome leaks in): source, channel, company size (one-hot, first level as
reference), page views (capped), a form submitted, replies and meetings booked (capped),
outbound touches received (capped) and the VIP flag.
Leads sharing the same feature values are grouped in the engine into *patterns* with their
lead and conversion counts: the fit is a binomial logistic regression on those sufficient
statistics (SciPy L-BFGS, L2 penalty ``alpha``; intercept not penalised).

Label: the lead reaches ``stage`` (default opportunity) within ``window_days`` of creation.
Training uses mature leads created before ``split``; the held-out set is the mature leads from
``split`` on (a time split, as the model will be used). The score (0–100) is written to the
facts table ``_lead_scores`` by one engine query (ADR 0114), never into the imported leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy import optimize, special

from levier.errors import AnalysisError
from levier.i18n import gettext as _

__all__ = ["ScoreOptions", "ScoreModel", "Evaluation", "patterns", "fit", "evaluate", "train", "write_scores", "SCORES_TABLE"]

SCORES_TABLE = "_lead_scores"
CATEGORICAL = ("source", "channel", "company_size")
NUMERIC = ("views", "forms", "replies", "touches", "vip")


@dataclass(frozen=True)
class ScoreOptions:
    stage: str = "opportunity"
    window_days: int = 30
    behaviour_days: int = 3
    cap_views: int = 10
    cap_replies: int = 3
    alpha: float = 1.0
    split: datetime | None = None  # default: 2/3 of the way through the mature leads
    end: datetime | None = None  # extraction time (default: last lead creation)


@dataclass(frozen=True)
class ScoreModel:
    names: tuple[str, ...]
    weights: tuple[float, ...]  # per standardised feature
    intercept: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    levels: dict[str, tuple[str, ...]]
    options: ScoreOptions
    bands: tuple[float, float]  # score cut-offs (low | medium | high): tertiles of the training leads

    def raw_weights(self) -> dict[str, float]:
        """Log-odds change per unit of each feature (one-hot: vs the reference level)."""
        return {n: w / s for n, w, s in zip(self.names, self.weights, self.std, strict=True)}

    def raw_intercept(self) -> float:
        return self.intercept - sum(w * m / s for w, m, s in zip(self.weights, self.mean, self.std, strict=True))

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.std)
        return special.expit(self.intercept + z @ np.asarray(self.weights))

    def band(self, score: float) -> str:
        return "high" if score >= self.bands[1] else "medium" if score >= self.bands[0] else "low"

    def to_dict(self) -> dict[str, Any]:
        w = self.raw_weights()
        return {"intercept": self.raw_intercept(), "weights": dict(sorted(w.items(), key=lambda kv: -abs(kv[1]))),
                "standardised_weights": dict(zip(self.names, self.weights, strict=True)), "reference_levels": {k: v[0] for k, v in self.levels.items() if v},
                "bands": {"low": f"< {self.bands[0]:.1f}", "medium": f"{self.bands[0]:.1f}–{self.bands[1]:.1f}", "high": f">= {self.bands[1]:.1f}"},
                "alpha": self.options.alpha, "stage": self.options.stage, "window_days": self.options.window_days}


@dataclass(frozen=True)
class Evaluation:
    n: int
    base_rate: float
    auc: float
    brier: float
    brier_baseline: float
    reliability: tuple[tuple[float, float, int], ...]  # (mean predicted, observed rate, leads) per bin

    @property
    def max_calibration_gap(self) -> float:
        return max((abs(p - o) for p, o, n in self.reliability if n >= 30), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "base_rate": self.base_rate, "auc": self.auc, "brier": self.brier, "brier_baseline": self.brier_baseline,
                "max_calibration_gap": self.max_calibration_gap,
                "reliability": [{"predicted": p, "observed": o, "leads": n} for p, o, n in self.reliability]}


def _lead_features(ws: Any, o: ScoreOptions) -> Any:
    """One row per lead with its features and label (an Ibis expression, not executed)."""
    leads, touches, web, st = ws.table("leads"), ws.table("touches"), ws.table("web_events"), ws.table("stage_events")
    behaviour = timedelta(days=o.behaviour_days)
    lw = leads.select("lead_id", "created_at")
    t = touches.inner_join(lw, "lead_id")
    t = t.filter((t.at >= t.created_at) & (t.at < t.created_at + behaviour))
    tr = t.group_by("lead_id").agg(replies=t.outcome.isin(("replied", "meeting_booked")).cast("int64").sum(),
                                   touches=(t.direction == "out").cast("int64").sum())
    w = web.filter(web.lead_id.notnull()).inner_join(lw, "lead_id")
    w = w.filter((w.at >= w.created_at - timedelta(days=30)) & (w.at < w.created_at + behaviour))
    wr = w.group_by("lead_id").agg(views=(w.type == "page_view").cast("int64").sum(), forms=(w.type == "form_submit").cast("int64").max())
    s = st.filter(st.stage == o.stage).inner_join(lw, "lead_id")
    s = s.filter((s.at >= s.created_at) & (s.at < s.created_at + timedelta(days=o.window_days)))
    conv = s.select("lead_id").distinct().mutate(y=1)
    f = leads.left_join(tr, "lead_id").left_join(wr, "lead_id").left_join(conv, "lead_id")
    return f.select(lead_id=f.lead_id, created_at=f.created_at,
                    **{c: f[c].cast("string").fill_null("unknown") for c in CATEGORICAL},
                    views=f.views.fill_null(0).clip(upper=o.cap_views), forms=f.forms.fill_null(0).clip(upper=1),
                    replies=f.replies.fill_null(0).clip(upper=o.cap_replies), touches=f.touches.fill_null(0).clip(upper=o.cap_views),
                    vip=f.vip.fill_null(False).cast("int64"), y=f.y.fill_null(0))


def patterns(ws: Any, o: ScoreOptions, start: datetime | None, end: datetime) -> Any:
    """Distinct feature patterns of leads created in [start, end) with n leads and k conversions."""
    f = _lead_features(ws, o)
    f = f.filter(f.created_at < end) if start is None else f.filter((f.created_at >= start) & (f.created_at < end))
    return f.group_by([*CATEGORICAL, *NUMERIC]).agg(n=f.count(), k=f.y.sum()).execute()


def _design(df: Any, levels: dict[str, tuple[str, ...]]) -> tuple[np.ndarray, list[str]]:
    cols, names = [], []
    for c in CATEGORICAL:
        for lv in levels[c][1:]:
            cols.append((df[c] == lv).to_numpy(float))
            names.append(f"{c}={lv}")
    for c in NUMERIC:
        cols.append(df[c].to_numpy(float))
        names.append(c)
    return np.column_stack(cols), names


def fit(df: Any, o: ScoreOptions) -> ScoreModel:
    """Penalised binomial maximum likelihood on the patterns (weights n, successes k)."""
    levels = {c: tuple(sorted(df[c].unique())) for c in CATEGORICAL}
    x, names = _design(df, levels)
    n, k = df["n"].to_numpy(float), df["k"].to_numpy(float)
    if n.sum() == 0 or k.sum() in (0, n.sum()):
        raise AnalysisError(_("Lead scoring needs converted and unconverted leads in the training period."))
    mean = np.average(x, axis=0, weights=n)
    std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=n))
    std[std == 0] = 1.0
    z = (x - mean) / std

    def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
        eta = b[0] + z @ b[1:]
        ll = k * eta - n * np.logaddexp(0, eta)
        p = special.expit(eta)
        g = np.concatenate([[-(k - n * p).sum()], -z.T @ (k - n * p) + o.alpha * b[1:]])
        return float(-ll.sum() + 0.5 * o.alpha * (b[1:] ** 2).sum()), g

    res = optimize.minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B")
    b = res.x
    p = special.expit(b[0] + z @ b[1:]) * 100
    order = np.argsort(p)
    cum = np.cumsum(n[order]) / n.sum()
    bands = (float(p[order][np.searchsorted(cum, 1 / 3)]), float(p[order][np.searchsorted(cum, 2 / 3)]))
    return ScoreModel(tuple(names), tuple(map(float, b[1:])), float(b[0]), tuple(map(float, mean)), tuple(map(float, std)), levels, o, bands)


def _auc(p: np.ndarray, n: np.ndarray, k: np.ndarray) -> float:
    """Weighted Mann–Whitney AUC (ties count one half)."""
    order = np.argsort(p)
    p, pos, neg = p[order], k[order], (n - k)[order]
    uniq, idx = np.unique(p, return_inverse=True)
    pos_u, neg_u = np.bincount(idx, pos, len(uniq)), np.bincount(idx, neg, len(uniq))
    neg_below = np.concatenate([[0], np.cumsum(neg_u)[:-1]])
    return float((pos_u * (neg_below + 0.5 * neg_u)).sum() / (pos.sum() * neg.sum()))


def evaluate(model: ScoreModel, df: Any, train_rate: float, bins: int = 10) -> Evaluation:
    """AUC, Brier score (vs the constant training rate) and reliability bins on held-out patterns."""
    x, _names = _design(df.assign(**{c: df[c].where(df[c].isin(model.levels[c]), model.levels[c][0]) for c in CATEGORICAL}), model.levels)
    n, k = df["n"].to_numpy(float), df["k"].to_numpy(float)
    p = model.predict(x)
    brier = float(((k * (1 - p) ** 2 + (n - k) * p**2).sum()) / n.sum())
    base = float(((k * (1 - train_rate) ** 2 + (n - k) * train_rate**2).sum()) / n.sum())
    order = np.argsort(p)
    cum = np.cumsum(n[order]) / n.sum()
    group = np.minimum((cum * bins - 1e-9).astype(int), bins - 1)
    rel = []
    for g in range(bins):
        m = group == g
        if n[order][m].sum():
            nn = n[order][m]
            rel.append((float((p[order][m] * nn).sum() / nn.sum()), float(k[order][m].sum() / nn.sum()), int(nn.sum())))
    return Evaluation(int(n.sum()), float(k.sum() / n.sum()), _auc(p, n, k), brier, base, tuple(rel))


def _bounds(ws: Any, o: ScoreOptions) -> tuple[datetime, datetime]:
    """(split, mature end): the split defaults to the 2/3 quantile of the mature leads' creation times."""
    leads = ws.table("leads")
    hi = leads.created_at.max().execute()
    if hi is None or hi != hi:
        raise AnalysisError(_("No leads to score."))
    end = o.end or hi.to_pydatetime()
    mature = end - timedelta(days=o.window_days)
    if o.split:
        return o.split, mature
    m = leads.filter(leads.created_at < mature)
    q = m.created_at.epoch_seconds().quantile(2 / 3).execute()
    if q is None or q != q:
        raise AnalysisError(_("No mature leads (created {d} days before the last one) to train on.", d=o.window_days))
    return datetime(1970, 1, 1) + timedelta(seconds=float(q)), mature


def train(ws: Any, options: ScoreOptions | None = None) -> tuple[ScoreModel, Evaluation]:
    """Fit on mature leads before the split, evaluate on mature leads after it."""
    o = options or ScoreOptions()
    split, mature = _bounds(ws, o)
    tr = patterns(ws, o, None, split)
    model = fit(tr, o)
    te = patterns(ws, o, split, mature)
    if te["n"].sum() == 0:
        raise AnalysisError(_("No mature leads after the split {split}: nothing to evaluate on.", split=split.date()))
    return model, evaluate(model, te, float(tr["k"].sum() / tr["n"].sum()))


def write_scores(ws: Any, model: ScoreModel) -> int:
    """Score every lead in the engine and (re)write ``_lead_scores`` (lead_id, score 0–100, band)."""
    import ibis

    f = _lead_features(ws, model.options)
    eta = ibis.literal(model.raw_intercept())
    for name, w in model.raw_weights().items():
        if "=" in name:
            col, lv = name.split("=", 1)
            eta = eta + (f[col] == lv).cast("float64") * w
        else:
            eta = eta + f[name].cast("float64") * w
    score = (100.0 / (1.0 + (-eta).exp())).round(2)
    lo, hi = model.bands
    out = f.select(lead_id=f.lead_id, score=score).mutate(
        band=ibis.cases((ibis._.score >= hi, "high"), (ibis._.score >= lo, "medium"), else_="low"), scored_at=ibis.literal(datetime.now().replace(microsecond=0)))
    ws.facts.con.create_table(SCORES_TABLE, out, overwrite=True)
    return int(ws.facts.con.table(SCORES_TABLE).count().execute())
