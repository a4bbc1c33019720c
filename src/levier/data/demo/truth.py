"""The ground truth of the demo data set, in one place.

Every behaviour the analyses must recover is a parameter here: conversion curves per
segment, the time-to-first-touch effect, rep multipliers and cadence lengths, the VIP
cluster, complaint rates, the Markov chain of marketing journeys, the experiment uplift,
retention. :func:`describe` renders it for ``ground_truth.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "START",
    "EXTRACTION",
    "CHANNEL_SHARES",
    "SIZE_SHARES",
    "SEGMENTS",
    "CURVES",
    "TTF_THRESHOLD_HOURS",
    "TTF_MULTIPLIER",
    "EXPERIMENT",
    "JOURNEY_STATES",
    "TRANSITIONS",
    "Rep",
    "base_conversion",
    "build_reps",
    "touch_weights",
    "describe",
]

# --- calendar -------------------------------------------------------------------------
START = np.datetime64("2026-07-01T00:00:00", "s")
EXTRACTION = np.datetime64("2026-11-01T00:00:00", "s")  # "now": nothing legitimate after it
SPEND_START = np.datetime64("2026-06-01", "D")
CONVERSION_WINDOW_DAYS = 30
CADENCE_MAX_DAYS = 21
DAY = np.int64(86_400)
HOUR = np.int64(3_600)

# --- segments -------------------------------------------------------------------------
CHANNELS = ("inbound", "outbound", "partner")
SIZES = ("smb", "mid", "enterprise")
CHANNEL_SHARES = np.array([0.45, 0.40, 0.15])
# P(size | channel): rows follow CHANNELS, columns SIZES.
SIZE_SHARES = np.array([[0.60, 0.30, 0.10], [0.35, 0.35, 0.30], [0.20, 0.40, 0.40]])
SEGMENTS = tuple(f"{c}/{s}" for c in CHANNELS for s in SIZES)  # index = 3*channel + size

# --- conversion curves P(opportunity within 30 d | k cadence touches) --------------------
# kind "plateau": base + slope * min(k, knee)           (SMB inbound: flat after 6 touches)
# kind "logistic": floor + height / (1 + exp(-(k - mid) / scale))   (enterprise outbound: S)
# kind "linear": base + slope * min(k, 16)              (mildly increasing)
# k = 0 never converts (conversion happens 1–5 days after the last outbound touch).
CURVES: dict[str, dict[str, float | str]] = {
    "inbound/smb": {"kind": "plateau", "base": 0.04, "slope": 0.04, "knee": 6},
    "inbound/mid": {"kind": "linear", "base": 0.08, "slope": 0.010},
    "inbound/enterprise": {"kind": "linear", "base": 0.06, "slope": 0.010},
    "outbound/smb": {"kind": "linear", "base": 0.03, "slope": 0.006},
    "outbound/mid": {"kind": "linear", "base": 0.04, "slope": 0.008},
    "outbound/enterprise": {"kind": "logistic", "floor": 0.02, "height": 0.34, "mid": 7.0, "scale": 1.1},
    "partner/smb": {"kind": "linear", "base": 0.10, "slope": 0.008},
    "partner/mid": {"kind": "linear", "base": 0.10, "slope": 0.010},
    "partner/enterprise": {"kind": "linear", "base": 0.08, "slope": 0.010},
}
# Distribution of the number of cadence touches k (1..K_MAX): weight ∝ floor + gaussian(mode, sd).
TOUCH_SHAPE: dict[str, tuple[float, float]] = {  # channel/size → (mode, sd)
    "inbound/smb": (8.0, 4.0), "inbound/mid": (9.0, 4.0), "inbound/enterprise": (10.0, 4.0),
    "outbound/smb": (8.0, 3.5), "outbound/mid": (9.0, 4.0), "outbound/enterprise": (9.0, 4.5),
    "partner/smb": (7.0, 3.5), "partner/mid": (8.0, 3.5), "partner/enterprise": (9.0, 4.0),
}
K_MAX = 18
TOUCH_FLOOR = 0.03
DEFAULT_TOUCHES_PER_LEAD = 8.0  # --touches-per-lead M scales the modes above by M / 8
UNTOUCHED_SHARE = 0.03  # neglected leads: no touch, no conversion
DNC_SHARE = 0.008  # do_not_contact: no touch, no conversion
LITIGATION_SHARE = 0.003
CONVERSION_CAP = 0.95

TTF_THRESHOLD_HOURS = 2.0
TTF_MULTIPLIER = 1.6  # inbound leads first touched within 2 h convert ×1.6
TTF_FAST_SHARE = {"inbound": 0.45, "outbound": 0.10, "partner": 0.20}

# --- VIP cluster ----------------------------------------------------------------------
VIP_SHARE = 0.005
VIP_ACCOUNTS = 5
VIP_CONVERSION = 0.65
VIP_TOUCHES = (1, 3)

# --- reps -----------------------------------------------------------------------------
LEADS_PER_REP = 800
MIN_REPS = 12
TEAMS = ("PME", "Mid-Market", "Grands Comptes", "Partenaires")
REP_MULTIPLIERS = (1.00, 0.70, 1.30, 0.85, 1.15)  # any 3 or 5 consecutive reps average 1.0
REP_CADENCE_DAYS = (14, 10, 18)
FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Claire", "Pauline",
    "Lucas", "Hugo", "Thomas", "Nicolas", "Antoine", "Julien", "Maxime", "Karim", "Mehdi", "Yanis",
    "Sophie", "Élodie", "Anaïs", "Margaux", "Nadia", "Amélie", "Laure", "Mathilde", "Zoé", "Lina",
    "Pierre", "Louis", "Adrien", "Romain", "Bastien", "Quentin", "Samir", "Théo", "Arthur", "Paul",
)
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
)

# --- geography ------------------------------------------------------------------------
COUNTRIES = ("FR", "BE", "CH", "CA", "LU", "MA", "GB", "DE")
COUNTRY_SHARES = np.array([0.82, 0.06, 0.04, 0.02, 0.01, 0.02, 0.02, 0.01])
TIMEZONES = ("Europe/Paris", "Europe/Brussels", "Europe/Zurich", "America/Toronto",
             "Europe/Luxembourg", "Africa/Casablanca", "Europe/London", "Europe/Berlin")

# --- touches --------------------------------------------------------------------------
TOUCH_CHANNELS = ("email", "call", "sms", "social", "meeting", "mail", "other")
# P(touch channel | company size) for cadence touches.
TOUCH_CHANNEL_SHARES = np.array([
    [0.55, 0.33, 0.06, 0.06, 0.00, 0.00, 0.00],
    [0.50, 0.30, 0.03, 0.14, 0.00, 0.03, 0.00],
    [0.42, 0.30, 0.00, 0.20, 0.03, 0.05, 0.00],
])
COMPLAINT_RATE = 0.0015  # share of outbound emails ending in a complaint
COMPLAINT_SPIKE = {"segment": "outbound/mid", "month": "2026-10", "rate": 0.0060}
BOUNCE_RATE = 0.025
OPT_OUT_SHARE = 0.02  # non-converting touched leads who unsubscribe at their last touch
REPLY_SHARE_NON_CONVERTED = 0.10

# --- deals and orders -----------------------------------------------------------------
WIN_RATE = {"smb": 0.35, "mid": 0.30, "enterprise": 0.25, "vip": 0.60}
AMOUNT_MEDIAN = {"smb": 4_000.0, "mid": 15_000.0, "enterprise": 60_000.0, "vip": 120_000.0}
MONTHLY_CHURN = {"smb": 0.06, "mid": 0.03, "enterprise": 0.015}
LOST_REASONS = ("budget", "concurrence", "timing", "pas de besoin", "injoignable")

# --- experiment -----------------------------------------------------------------------
EXPERIMENT = {
    "experiment_key": "subject-line-2026-10",
    "variants": ("control", "treatment"),
    "unit": "lead",
    "population": "leads created in 2026-10",
    "split": 0.5,
    "true_relative_uplift": 0.20,  # P(convert) × 1.20 in treatment (before the 0.95 cap)
}

# --- marketing journeys: first-order Markov chain over session channels ------------------
JOURNEY_STATES = ("start", "paid_search", "paid_social", "email", "organic", "referral",
                  "direct", "conversion", "null")
# Rows: from-state (start + 6 channels); columns: to-state (6 channels + conversion + null).
TRANSITIONS = np.array([
    # ps    soc   email org   ref   dir   conv  null
    [0.30, 0.20, 0.10, 0.25, 0.05, 0.10, 0.00, 0.00],  # start
    [0.08, 0.04, 0.05, 0.08, 0.02, 0.10, 0.18, 0.45],  # paid_search
    [0.10, 0.10, 0.04, 0.06, 0.02, 0.08, 0.08, 0.52],  # paid_social
    [0.05, 0.03, 0.12, 0.05, 0.02, 0.13, 0.22, 0.38],  # email
    [0.06, 0.03, 0.06, 0.10, 0.03, 0.10, 0.12, 0.50],  # organic
    [0.05, 0.03, 0.04, 0.06, 0.05, 0.08, 0.20, 0.49],  # referral
    [0.05, 0.03, 0.06, 0.04, 0.02, 0.10, 0.25, 0.45],  # direct
])
UTM = {  # state → (utm_source, utm_medium, campaigns, referrer, landing pages)
    "paid_search": ("google", "cpc", ("gads-marque", "gads-crm-pme", "gads-prospection"),
                    "www.google.com", ("/demo", "/tarifs")),
    "paid_social": ("linkedin", "paid_social", ("li-livre-blanc", "li-retargeting"),
                    "www.linkedin.com", ("/livre-blanc-revops",)),
    "email": ("brevo", "email", ("nl-2026-06", "nl-2026-07", "nl-2026-08", "nl-2026-09", "nl-2026-10"),
              None, ("/blog/cadence-commerciale", "/webinaire")),
    "organic": ("google", "organic", (), "www.google.com", ("/blog/ttf-lead", "/blog/playbook-sdr", "/")),
    "referral": ("journaldunet", "referral", (), "www.journaldunet.com", ("/", "/cas-clients")),
    "direct": (None, None, (), None, ("/", "/tarifs")),
}
SPEND_SOURCES = {"paid_search": "google_ads", "paid_social": "linkedin_ads", "email": "brevo"}
COST_PER_SESSION = {"paid_search": 2.40, "paid_social": 4.10, "email": 0.15}
FORM_PAGE = "/demande-de-demo"
OWN_HOST = "www.levier-demo.fr"  # referrer of in-site navigation
FORM_ABANDON_SHARE = 0.3  # non-converting journeys whose last session starts the form


@dataclass(frozen=True)
class Rep:
    """One sales rep of the demo company."""

    owner: str
    team: str
    conversion_multiplier: float
    cadence_days: int

    def to_dict(self) -> dict[str, object]:
        return {"owner": self.owner, "team": self.team,
                "conversion_multiplier": self.conversion_multiplier, "cadence_days": self.cadence_days}


def n_reps(leads: int) -> int:
    """Headcount grows with the data set: about one rep per 800 leads (at least 12)."""
    return max(MIN_REPS, round(leads / LEADS_PER_REP))


def build_reps(leads: int, rng: np.random.Generator) -> tuple[Rep, ...]:
    """Reps spread over the teams; multipliers and cadence lengths on a balanced grid.

    Names are drawn without repetition from the first × last name pool; past the pool's size
    (1,600 names, i.e. about 1.3M leads) the homonyms are numbered ("Léa Martin 2").
    Rep ``j`` of a team gets multiplier ``REP_MULTIPLIERS[j % 5]`` and cadence length
    ``REP_CADENCE_DAYS[(j + j // 5) % 3]``; cadence length changes touch spacing, not the
    number of touches, so it does not confound the conversion curves.
    """
    count = n_reps(leads)
    pool = len(FIRST_NAMES) * len(LAST_NAMES)
    names = rng.permutation(pool)[: max(count, 1)]
    reps = []
    for i in range(count):
        team = TEAMS[i % len(TEAMS)]
        j = i // len(TEAMS)
        first, last = divmod(int(names[i % pool]), len(LAST_NAMES))
        owner = f"{FIRST_NAMES[first % len(FIRST_NAMES)]} {LAST_NAMES[last]}"
        if i >= pool:  # more reps than names (beyond ~1.3M leads): homonyms get a number
            owner += f" {i // pool + 1}"
        reps.append(Rep(owner, team, REP_MULTIPLIERS[j % 5], REP_CADENCE_DAYS[(j + j // 5) % 3]))
    return tuple(reps)


def team_of(channel: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Team index per lead: partners → Partenaires, else by company size."""
    return np.where(channel == 2, 3, size)


def base_conversion(segment: str, k: np.ndarray) -> np.ndarray:
    """P(convert | k cadence touches) for ``segment`` before multipliers."""
    c = CURVES[segment]
    kf = np.asarray(k, dtype=float)
    if c["kind"] == "plateau":
        p = c["base"] + c["slope"] * np.minimum(kf, c["knee"])
    elif c["kind"] == "logistic":
        p = c["floor"] + c["height"] / (1.0 + np.exp(-(kf - c["mid"]) / c["scale"]))
    else:
        p = c["base"] + c["slope"] * np.minimum(kf, K_MAX)
    return np.where(kf <= 0, 0.0, p)


def touch_weights(segment: str, touches_per_lead: float) -> np.ndarray:
    """Probabilities of k = 1..K_MAX cadence touches for ``segment``."""
    mode, sd = TOUCH_SHAPE[segment]
    scale = touches_per_lead / DEFAULT_TOUCHES_PER_LEAD
    kmax = max(K_MAX, int(np.ceil(2 * touches_per_lead)))
    k = np.arange(1, kmax + 1, dtype=float)
    w = TOUCH_FLOOR + np.exp(-0.5 * ((k - mode * scale) / (sd * max(scale, 0.5))) ** 2)
    return w / w.sum()


def curve_table(segment: str, kmax: int = K_MAX) -> dict[str, float]:
    k = np.arange(0, kmax + 1)
    return {str(int(i)): round(float(p), 6) for i, p in zip(k, base_conversion(segment, k), strict=True)}


def describe() -> dict[str, object]:
    """The static part of ``ground_truth.json`` (the dynamic part is added by the generator)."""
    states = list(JOURNEY_STATES)
    matrix = {
        states[i]: {states[j + 1]: float(TRANSITIONS[i, j]) for j in range(TRANSITIONS.shape[1])}
        for i in range(TRANSITIONS.shape[0])
    }
    return {
        "calendar": {
            "leads_from": "2026-07-01T00:00:00", "leads_to": "2026-10-31T23:59:59",
            "extraction_time": "2026-11-01T00:00:00", "spend_from": "2026-06-01",
            "timestamps": "naive UTC",
        },
        "segments": {
            "channel_shares": dict(zip(CHANNELS, CHANNEL_SHARES.tolist(), strict=True)),
            "size_shares_given_channel": {c: dict(zip(SIZES, SIZE_SHARES[i].tolist(), strict=True)) for i, c in enumerate(CHANNELS)},
            "note": "VIP leads (leads.vip) are partner/enterprise and drawn outside these shares.",
        },
        "conversion": {
            "definition": "lead reaches stage 'opportunity' within 30 days of created_at",
            "touch_count": "outbound touches (direction 'out', owner = a rep) in [created_at, min(conversion_at, created_at + 30 d))",
            "timing": "cadence touches in [created_at, created_at + 21 d); conversion 1–5 days after the last outbound touch",
            "curves": {s: {"params": CURVES[s], "p_by_touches": curve_table(s)} for s in SEGMENTS},
            "multipliers": "p = curve(k) × rep.conversion_multiplier × ttf_multiplier × experiment_multiplier, capped at 0.95",
            "ttf": {"applies_to": "inbound", "threshold_hours": TTF_THRESHOLD_HOURS,
                    "multiplier": TTF_MULTIPLIER, "measured_as": "first outbound touch − created_at",
                    "share_within_threshold": TTF_FAST_SHARE},
            "untouched_share": UNTOUCHED_SHARE, "do_not_contact_share": DNC_SHARE,
            "censoring": "events after the extraction time are not in the data: leads created after ~2026-10-01 are not fully mature",
        },
        "vip": {"share_of_leads": VIP_SHARE, "accounts": VIP_ACCOUNTS, "channel": "partner",
                "company_size": "enterprise", "conversion": VIP_CONVERSION, "touches": list(VIP_TOUCHES)},
        "guardrails": {
            "complaint_rate_per_outbound_email": COMPLAINT_RATE,
            "complaint_spike": COMPLAINT_SPIKE,
            "bounce_rate_per_email": BOUNCE_RATE,
            "opt_out_share": OPT_OUT_SHARE,
            "opt_out_rule": "a non-converting lead unsubscribes on its last (email) touch; opted_out_at = that touch + 1–60 min",
        },
        "deals": {"win_rate": WIN_RATE, "amount_median_eur": AMOUNT_MEDIAN,
                  "close_after_days": [14, 90], "currency": "EUR"},
        "orders": {"monthly_churn": MONTHLY_CHURN, "monthly_amount": "deal amount / 12 (±5 %)",
                   "first_order": "closed_at + 1–7 days, then every 30 days until churn or extraction"},
        "experiment": {k: (list(v) if isinstance(v, tuple) else v) for k, v in EXPERIMENT.items()},
        "journeys": {
            "states": states,
            "transition_matrix": matrix,
            "session_channel_from_utm_medium": {"cpc": "paid_search", "paid_social": "paid_social",
                                                "email": "email", "organic": "organic",
                                                "referral": "referral", "(null)": "direct"},
            "how_to_rebuild": "group web_events by anonymous_id and order by at. A session starts at each "
                              "page_view whose referrer is not our own site (" + OWN_HOST + "); its utm_medium "
                              "gives the session channel (null UTMs = direct). The journey is the sequence of "
                              "session channels; it ends in 'conversion' when the visitor has a form_submit (its "
                              "lead_id is set; the lead is created at that instant), else in 'null'.",
            "cost_per_session_eur": COST_PER_SESSION, "spend_source": SPEND_SOURCES,
        },
    }
