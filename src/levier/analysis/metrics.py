"""THE catalogue of metric definitions used by the audit, the dashboards and the reports.

One entry per metric: key, English and French names, formula and notes. ``docs/metrics.md`` is
generated from it (``python -m levier.analysis.metrics``) and a test checks both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from levier.i18n import get_language

__all__ = ["Metric", "METRICS", "metric", "definitions", "render_markdown"]


@dataclass(frozen=True)
class Metric:
    key: str
    name_en: str
    name_fr: str
    formula_en: str
    formula_fr: str
    kind: str  # impact | activity | quality | guardrail | statistic

    def name(self, lang: str | None = None) -> str:
        return self.name_fr if (lang or get_language()) == "fr" else self.name_en

    def formula(self, lang: str | None = None) -> str:
        return self.formula_fr if (lang or get_language()) == "fr" else self.formula_en


def _m(*a: str) -> Metric:
    return Metric(*a)


METRICS: tuple[Metric, ...] = (
    _m("lead", "Lead in the period", "Lead de la période", "A row of leads whose created_at is in [period start, period end) (UTC), after cleaning. Default period: the last full calendar month whose leads have all had the conversion window to convert (so its conversion rate is final).", "Une ligne de leads dont created_at est dans [début, fin) de la période (UTC), après nettoyage. Période par défaut : le dernier mois calendaire complet dont tous les leads ont eu la fenêtre de conversion entière (son taux de conversion est donc définitif).", "statistic"),
    _m("conversion", "Conversion", "Conversion", "The lead reaches the conversion stage (default opportunity) within the window (default 30 days) after created_at: first stage_events.at in [created_at, created_at + window).", "Le lead atteint l'étape de conversion (par défaut opportunity) dans la fenêtre (par défaut 30 jours) après created_at : premier stage_events.at dans [created_at, created_at + fenêtre).", "impact"),
    _m("conversion_rate", "Conversion rate (CR)", "Taux de conversion (TC)", "Converted leads / leads.", "Leads convertis / leads.", "impact"),
    _m("contacts_per_lead", "Contacts per lead", "Contacts par lead", "Outbound touches (direction out; restricted to the contact outcomes when set) in [created_at, min(conversion time, created_at + window)). Median and IQR are exact histogram quantiles (linear interpolation, as numpy).", "Touches sortantes (direction out ; limitées aux résultats « contact » s'ils sont fixés) dans [created_at, min(conversion, created_at + fenêtre)). Médiane et écart interquartile exacts sur l'histogramme (interpolation linéaire, comme numpy).", "activity"),
    _m("effective_contact_rate", "Effective-contact rate", "Taux de contact effectif", "Contacts whose outcome is effective (default connected, replied, meeting_booked) / contacts.", "Contacts dont le résultat est effectif (par défaut connected, replied, meeting_booked) / contacts.", "quality"),
    _m("ttf_hours", "Time to first contact (TTF)", "Délai de premier contact (TTF)", "Hours from created_at to the first outbound touch in the window; median and p90 over contacted leads (1-minute resolution up to 48 h, 1 hour beyond).", "Heures entre created_at et la première touche sortante de la fenêtre ; médiane et p90 sur les leads contactés (résolution 1 minute jusqu'à 48 h, 1 heure au-delà).", "activity"),
    _m("share_within_sla", "Share within the TTF SLA", "Part dans le SLA de TTF", "Contacted leads with TTF < SLA (default 2 h) / contacted leads.", "Leads contactés avec TTF < SLA (par défaut 2 h) / leads contactés.", "activity"),
    _m("pearson_r", "Pearson r", "r de Pearson", "Correlation of X (contacts per lead; account/rep unit: mean contacts per lead) and Y (converted 0/1; account/rep unit: CR); 95 % CI by Fisher z.", "Corrélation entre X (contacts par lead ; unité compte/commercial : contacts moyens par lead) et Y (converti 0/1 ; unité compte/commercial : TC) ; IC 95 % par z de Fisher.", "statistic"),
    _m("spearman", "Spearman ρ", "ρ de Spearman", "Pearson r of the mid-ranks of X and Y (ties share their mean rank).", "r de Pearson des rangs moyens de X et Y (ex æquo au rang moyen).", "statistic"),
    _m("slope", "Slope m", "Pente m", "OLS slope of Y on X: extra conversion per extra contact; 95 % CI from the t distribution (n − 2 df).", "Pente MCO de Y sur X : conversion gagnée par contact supplémentaire ; IC 95 % par la loi de Student (n − 2 ddl).", "statistic"),
    _m("intercept", "Intercept b", "Ordonnée à l'origine b", "OLS intercept: Y at X = 0.", "Ordonnée à l'origine MCO : Y pour X = 0.", "statistic"),
    _m("r2", "R²", "R²", "r²: share of the variance of Y explained by the line.", "r² : part de la variance de Y expliquée par la droite.", "statistic"),
    _m("quadrants", "Quadrants Q1..Q4", "Quadrants Q1..Q4", "Around the means of X and Y: Q1 high X/high Y (target), Q2 low X/high Y, Q3 low X/low Y (priority), Q4 high X/low Y; a point on a mean line counts as low.", "Autour des moyennes de X et Y : Q1 X haut/Y haut (cible), Q2 X bas/Y haut, Q3 X bas/Y bas (priorité), Q4 X haut/Y bas ; un point sur une moyenne compte comme bas.", "statistic"),
    _m("pct_q1", "% in Q1", "% en Q1", "Points in Q1 / points.", "Points en Q1 / points.", "impact"),
    _m("sensitivity", "Sensitivity (top 1 % removed)", "Sensibilité (1 % du haut retiré)", "r, m, R² recomputed without the points whose X is above its 99th percentile; flagged when |Δr| > 0.05, the slope changes sign or by more than 25 %.", "r, m, R² recalculés sans les points dont X dépasse son 99e centile ; signalé si |Δr| > 0,05, si la pente change de signe ou de plus de 25 %.", "statistic"),
    _m("response_curve", "Response curve", "Courbe de réponse", "CR by number of contacts (one bin per value, sparse tail merged to ≥ 20 leads) with 95 % Wilson intervals; shape by BIC among flat, linear, plateau, S, U fits (ADR 0040).", "TC par nombre de contacts (une classe par valeur, queue regroupée à ≥ 20 leads) avec intervalles de Wilson à 95 % ; forme par BIC parmi plate, linéaire, plateau, S, U (ADR 0040).", "statistic"),
    _m("complaint_rate", "Complaint rate", "Taux de plainte", "Outbound touches with outcome complaint / outbound touches (in the leads' windows).", "Touches sortantes de résultat complaint / touches sortantes (dans les fenêtres des leads).", "guardrail"),
    _m("unsubscribe_rate", "Unsubscribe rate", "Taux de désinscription", "Outbound touches with outcome unsubscribed / outbound touches.", "Touches sortantes de résultat unsubscribed / touches sortantes.", "guardrail"),
    _m("touch_quality", "Touch quality", "Qualité des touches", "(replies + meetings booked) / outbound touches.", "(réponses + rendez-vous) / touches sortantes.", "quality"),
    _m("delta_cr_points", "ΔCR (points)", "ΔTC (points)", "100 × (CR of the period − CR of the comparison period); two-proportion z-test.", "100 × (TC de la période − TC de la période de comparaison) ; test z de deux proportions.", "impact"),
)

_BY_KEY = {m.key: m for m in METRICS}


def metric(key: str) -> Metric:
    return _BY_KEY[key]


def definitions(lang: str | None = None) -> list[dict]:
    """The ``definitions`` list of the audit JSON."""
    return [{"key": m.key, "name": m.name(lang), "formula": m.formula(lang), "kind": m.kind, "source": f"docs/metrics.md#{m.key}"} for m in METRICS]


def render_markdown() -> str:
    lines = ["# Metrics / Indicateurs", "", "<!-- Generated by `python -m levier.analysis.metrics`; do not edit by hand. -->", "",
             "Every figure of the audit is defined once, here (source: `src/levier/analysis/metrics.py`).",
             "Chaque chiffre de l'audit est défini une seule fois, ici.", ""]
    for m in METRICS:
        lines += [f"## {m.key}", "", f"**{m.name_en}** / *{m.name_fr}* — {m.kind}", "", f"- en: {m.formula_en}", f"- fr : {m.formula_fr}", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
