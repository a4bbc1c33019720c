"""THE catalogue of KPIs shared by the audit, the dashboards and action verification.

It includes every metric of the audit catalogue (:mod:`levier.analysis.metrics`, reused as
is: same ``Metric`` type, names and formulas) and adds the funnel, marketing, revenue and
attribution KPIs. Each :class:`Kpi` carries its unit, kind (activity / impact), timing
(leading / lagging), review frequency and, when it can be measured over a period alone, a
compute function. Action verification calls :func:`compute_kpi`.

``docs/kpis.md`` is generated from this module (``python -m levier.analysis.kpis``) and a
test checks it is current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from levier.analysis._kpi_compute import COMPUTE, Compute
from levier.analysis.metrics import METRICS, Metric
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["Kpi", "KpiValue", "KPIS", "kpi", "compute_kpi", "compute_kpis", "render_markdown"]


@dataclass(frozen=True)
class Kpi:
    """One KPI: the shared metric definition plus how it is read and computed."""

    metric: Metric
    unit: str  # count | ratio | hours | days | currency | currency_per_day | coefficient
    kind: str  # activity | impact
    timing: str  # leading | lagging
    frequency: str  # daily | weekly | monthly | quarterly
    category: str  # the metric's own kind: impact, activity, quality, guardrail, statistic, revenue …
    compute: Compute | None = None

    @property
    def key(self) -> str:
        return self.metric.key

    @property
    def computable(self) -> bool:
        return self.compute is not None

    def name(self, lang: str | None = None) -> str:
        return self.metric.name(lang)

    def formula(self, lang: str | None = None) -> str:
        return self.metric.formula(lang)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {"key": self.key, "name": self.name(lang), "formula": self.formula(lang), "unit": self.unit,
                "kind": self.kind, "timing": self.timing, "frequency": self.frequency, "category": self.category,
                "computable": self.computable, "source": f"docs/kpis.md#{self.key}"}


# Reading of the audit's metrics: unit, kind, timing, frequency.
_AUDIT_META: dict[str, tuple[str, str, str, str]] = {
    "lead": ("count", "activity", "leading", "weekly"),
    "conversion": ("count", "impact", "lagging", "weekly"),
    "conversion_rate": ("ratio", "impact", "lagging", "monthly"),
    "contacts_per_lead": ("count", "activity", "leading", "weekly"),
    "effective_contact_rate": ("ratio", "activity", "leading", "weekly"),
    "ttf_hours": ("hours", "activity", "leading", "daily"),
    "share_within_sla": ("ratio", "activity", "leading", "daily"),
    "complaint_rate": ("ratio", "impact", "leading", "weekly"),
    "unsubscribe_rate": ("ratio", "impact", "leading", "weekly"),
    "touch_quality": ("ratio", "activity", "leading", "weekly"),
    "delta_cr_points": ("points", "impact", "lagging", "monthly"),
    "pct_q1": ("ratio", "impact", "lagging", "monthly"),
}


def _m(key: str, en: str, fr: str, f_en: str, f_fr: str, category: str) -> Metric:
    return Metric(key, en, fr, f_en, f_fr, category)


# (metric, unit, kind, timing, frequency)
_OWN: tuple[tuple[Metric, str, str, str, str], ...] = (
    (_m("lead_to_opportunity_rate", "Lead → opportunity (cumulative)", "Lead → opportunité (cumulé)", "Leads created in the period that reached opportunity or a later stage / leads created in the period.", "Leads créés dans la période ayant atteint opportunity ou une étape ultérieure / leads créés dans la période.", "impact"), "ratio", "impact", "lagging", "monthly"),
    (_m("mql_to_sql_rate", "MQL → SQL ratio", "Ratio MQL → SQL", "Leads of the period that reached sql (or later) / those that reached mql (or later).", "Leads de la période ayant atteint sql (ou plus loin) / ceux ayant atteint mql (ou plus loin).", "impact"), "ratio", "impact", "leading", "weekly"),
    (_m("funnel_step_rate", "Funnel step conversion", "Conversion par étape", "For each ordered stage i (exit stages such as lost excluded): leads that reached stage i or a later one / leads that reached stage i − 1 or a later one; cumulative: / leads of the first stage; drop-off: the difference in leads.", "Pour chaque étape ordonnée i (hors étapes de sortie comme lost) : leads ayant atteint i ou une étape ultérieure / leads ayant atteint i − 1 ou plus loin ; cumulé : / leads de la première étape ; perte : la différence en leads.", "impact"), "ratio", "impact", "lagging", "monthly"),
    (_m("median_time_between_steps", "Median time between steps", "Délai médian entre étapes", "Median hours from the first event of stage i − 1 (first stage: created_at) to the first event of stage i, over leads with both (exact to the minute).", "Heures médianes entre le premier événement de l'étape i − 1 (première étape : created_at) et celui de l'étape i, sur les leads ayant les deux (exact à la minute).", "activity"), "hours", "activity", "leading", "monthly"),
    (_m("web_visitors", "Web visitors", "Visiteurs web", "Distinct anonymous_id with a page_view in the period.", "anonymous_id distincts ayant une page_view dans la période.", "activity"), "count", "activity", "leading", "weekly"),
    (_m("form_completion_rate", "Form completion rate", "Taux de complétion de formulaire", "Visitors with a form_submit / visitors with a form_start, in the period.", "Visiteurs avec form_submit / visiteurs avec form_start, dans la période.", "quality"), "ratio", "activity", "leading", "weekly"),
    (_m("bounce_rate", "Landing bounce rate", "Taux de rebond des pages d'entrée", "Sessions of a single event / sessions; a session opens on a page_view that is the visitor's first event, comes more than 30 min after the previous one, or carries UTMs.", "Sessions d'un seul événement / sessions ; une session s'ouvre sur une page_view qui est le premier événement du visiteur, arrive plus de 30 min après le précédent ou porte des UTM.", "quality"), "ratio", "activity", "leading", "weekly"),
    (_m("sales_cycle_days", "Sales cycle length", "Durée du cycle de vente", "Median days from deal created_at to closed_at for deals won and closed in the period (exact to the hour).", "Jours médians entre created_at et closed_at des affaires gagnées et clôturées dans la période (exact à l'heure).", "activity"), "days", "activity", "lagging", "monthly"),
    (_m("win_rate", "Win rate", "Taux de gain", "Deals won / deals closed (won or lost) in the period.", "Affaires gagnées / affaires clôturées (gagnées ou perdues) dans la période.", "impact"), "ratio", "impact", "lagging", "monthly"),
    (_m("average_deal", "Average won deal", "Affaire gagnée moyenne", "Mean amount of the deals won and closed in the period.", "Montant moyen des affaires gagnées et clôturées dans la période.", "revenue"), "currency", "impact", "lagging", "monthly"),
    (_m("pipeline_velocity", "Pipeline velocity", "Vélocité du pipeline", "Open opportunities at the end of the period × win rate × average won deal / mean sales cycle (days of won deals): revenue per day.", "Opportunités ouvertes en fin de période × taux de gain × affaire gagnée moyenne / cycle de vente moyen (jours des affaires gagnées) : revenu par jour.", "revenue"), "currency_per_day", "impact", "leading", "monthly"),
    (_m("monthly_churn", "Monthly churn", "Attrition mensuelle", "Accounts with an order in a month and none in the next / accounts with an order in the month, over the fully observed months before the period end (orders).", "Comptes ayant commandé un mois et pas le suivant / comptes ayant commandé ce mois, sur les mois entièrement observés avant la fin de période (orders).", "retention"), "ratio", "impact", "lagging", "monthly"),
    (_m("retention_cohorts", "Retention by cohort", "Rétention par cohorte", "Cohort = month of an account's first order; retention at age k = accounts of the cohort ordering in month cohort + k / cohort size.", "Cohorte = mois de la première commande d'un compte ; rétention à l'âge k = comptes de la cohorte commandant au mois cohorte + k / taille de la cohorte.", "retention"), "ratio", "impact", "lagging", "quarterly"),
    (_m("arpa", "Revenue per active account-month (ARPA)", "Revenu par compte actif et par mois (ARPA)", "Order revenue / account-months with at least one order, before the period end.", "Revenu des commandes / mois-comptes avec au moins une commande, avant la fin de période.", "revenue"), "currency", "impact", "lagging", "monthly"),
    (_m("cltv", "Customer lifetime value (CLTV)", "Valeur vie client (CLTV)", "ARPA / monthly churn (expected revenue of an account over its geometric lifetime; no margin applied).", "ARPA / attrition mensuelle (revenu attendu d'un compte sur sa durée de vie géométrique ; sans marge).", "revenue"), "currency", "impact", "lagging", "quarterly"),
    (_m("spend", "Marketing spend", "Dépenses marketing", "Sum of spend.cost with date in the period.", "Somme de spend.cost dont la date est dans la période.", "activity"), "currency", "activity", "leading", "weekly"),
    (_m("cpl", "Cost per lead (CPL)", "Coût par lead (CPL)", "Spend of the period / leads created in the period; per channel and model: spend of the channel / leads attributed to it.", "Dépenses de la période / leads créés dans la période ; par canal et modèle : dépenses du canal / leads qui lui sont attribués.", "efficiency"), "currency", "activity", "leading", "monthly"),
    (_m("cplq", "Cost per qualified lead (CPLQ)", "Coût par lead qualifié (CPLQ)", "Spend of the period / leads reaching sql in the period; per channel and model: spend / qualified leads attributed.", "Dépenses de la période / leads atteignant sql dans la période ; par canal et modèle : dépenses / leads qualifiés attribués.", "efficiency"), "currency", "activity", "leading", "monthly"),
    (_m("cac", "Customer acquisition cost (CAC)", "Coût d'acquisition client (CAC)", "Spend of the period / leads reaching won in the period; per channel and model: spend / customers attributed.", "Dépenses de la période / leads atteignant won dans la période ; par canal et modèle : dépenses / clients attribués.", "efficiency"), "currency", "impact", "lagging", "monthly"),
    (_m("roas", "Return on ad spend (ROAS)", "Retour sur dépenses publicitaires (ROAS)", "Revenue of deals won in the period / spend of the period; per channel and model: attributed revenue / spend.", "Revenu des affaires gagnées dans la période / dépenses de la période ; par canal et modèle : revenu attribué / dépenses.", "revenue"), "ratio", "impact", "lagging", "monthly"),
    (_m("romi", "Return on marketing investment (ROMI)", "Retour sur investissement marketing (ROMI)", "(Revenue − spend) / spend, same scope as ROAS.", "(Revenu − dépenses) / dépenses, même périmètre que le ROAS.", "revenue"), "ratio", "impact", "lagging", "monthly"),
    (_m("time_to_conversion_days", "Time from first touch to conversion", "Délai du premier contact à la conversion", "Median days from the first touch of a converting journey (within the lookback window, default 30 days) to its conversion (default stage opportunity), journeys converting in the period.", "Jours médians entre la première touche d'un parcours converti (dans la fenêtre, 30 jours par défaut) et sa conversion (étape opportunity par défaut), parcours convertis dans la période.", "activity"), "days", "activity", "lagging", "monthly"),
    (_m("attributed_conversions", "Attributed conversions", "Conversions attribuées", "Conversions credited to a channel by a model (first, last, last non-direct, linear, time-decay, position 40/20/40, Markov removal effect, simplified Shapley); each model's credits sum to the conversions (docs/attribution.md).", "Conversions créditées à un canal par un modèle (premier, dernier, dernier non direct, linéaire, décroissance temporelle, position 40/20/40, effet de retrait Markov, Shapley simplifié) ; les crédits de chaque modèle somment aux conversions (docs/attribution.md).", "impact"), "count", "impact", "lagging", "monthly"),
)


def _build() -> dict[str, Kpi]:
    out: dict[str, Kpi] = {}
    for m in METRICS:
        unit, kind, timing, freq = _AUDIT_META.get(m.key, ("coefficient", "impact" if m.kind == "impact" else "activity", "lagging", "monthly"))
        out[m.key] = Kpi(m, unit, kind, timing, freq, m.kind, COMPUTE.get(m.key))
    for m, unit, kind, timing, freq in _OWN:
        out[m.key] = Kpi(m, unit, kind, timing, freq, m.kind, COMPUTE.get(m.key))
    return out


KPIS: dict[str, Kpi] = _build()


def kpi(key: str) -> Kpi:
    """The KPI ``key``; raises :class:`OptionError` naming the valid keys."""
    try:
        return KPIS[key]
    except KeyError:
        raise OptionError(_("Unknown KPI '{key}'.", key=key),
                          hint=_("Use one of: {keys}.", keys=", ".join(sorted(KPIS)))) from None


def _dt(d: date | datetime) -> datetime:
    return d if isinstance(d, datetime) else datetime.combine(d, datetime.min.time())


@dataclass(frozen=True)
class KpiValue:
    """One KPI measured over ``[start, end)`` (and a segment)."""

    key: str
    value: float | None
    unit: str
    start: datetime
    end: datetime
    segment: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "unit": self.unit, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "segment": dict(self.segment) if self.segment else None}


def compute_kpi(ws: Any, key: str, start: date | datetime, end: date | datetime,
                segment: Mapping[str, str] | None = None) -> KpiValue:
    """Measure KPI ``key`` over ``[start, end)``, optionally for one segment of leads."""
    k = kpi(key)
    if k.compute is None:
        raise OptionError(_("KPI '{key}' is not measured over a period alone; read it in the audit or the attribution.", key=key))
    s, e = _dt(start), _dt(end)
    if e <= s:
        raise OptionError(_("The period end {end} must come after its start {start}.", start=s.date(), end=e.date()))
    return KpiValue(key, k.compute(ws, s, e, segment), k.unit, s, e, dict(segment) if segment else None)


def compute_kpis(ws: Any, start: date | datetime, end: date | datetime, keys: tuple[str, ...] | None = None,
                 segment: Mapping[str, str] | None = None) -> list[KpiValue]:
    """Every computable KPI (or ``keys``) over the period (in one refresh scope: the lead-cohort KPIs share their statistics)."""
    from levier.kpi._scope import scope

    keys = keys or tuple(k for k, v in KPIS.items() if v.computable)
    with scope():
        return [compute_kpi(ws, k, start, end, segment) for k in keys]


def render_markdown() -> str:
    lines = ["# KPI catalogue / Catalogue des KPI", "",
             "<!-- Generated by `python -m levier.analysis.kpis`; do not edit by hand. -->", "",
             "One definition per KPI, shared by the audit, the dashboards and action verification",
             "(source: `src/levier/analysis/kpis.py`, which includes `docs/metrics.md`).",
             "Une définition par KPI, partagée par l'audit, les tableaux de bord et la vérification des actions.", "",
             "| key | unit | kind | timing | review | measurable over a period |", "|---|---|---|---|---|---|"]
    lines += [f"| [`{k.key}`](#{k.key}) | {k.unit} | {k.kind} | {k.timing} | {k.frequency} | {'yes' if k.computable else 'no'} |"
              for k in KPIS.values()]
    lines.append("")
    for k in KPIS.values():
        lines += [f"## {k.key}", "", f"**{k.metric.name_en}** / *{k.metric.name_fr}* — {k.kind}, {k.timing}, {k.unit}, "
                  f"reviewed {k.frequency} ({k.category})", "", f"- en: {k.metric.formula_en}", f"- fr : {k.metric.formula_fr}", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
