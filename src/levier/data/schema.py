"""The canonical facts model: the contract between ingest and analysis.

Each table is declared once here; ``docs/data-model.md`` is generated from it
(``python -m levier.data.schema``) and a test checks the two agree.

Conventions:
- every timestamp is stored as a naive ``timestamp`` holding **UTC**;
- enumerated columns are lower-case strings from ``allowed``;
- the ``key`` of a table is unique; imports upsert on it (the latest import wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Column",
    "Table",
    "TABLES",
    "TABLE_NAMES",
    "CHANNELS",
    "TOUCH_CHANNELS",
    "COMPANY_SIZES",
    "OUTCOMES",
    "DEFAULT_STAGES",
    "table",
    "render_markdown",
]

CHANNELS = ("inbound", "outbound", "partner")
COMPANY_SIZES = ("smb", "mid", "enterprise")
TOUCH_CHANNELS = ("email", "call", "sms", "social", "meeting", "mail", "other")
DIRECTIONS = ("out", "in")
OUTCOMES = (
    "delivered",
    "opened",
    "clicked",
    "replied",
    "connected",
    "no_answer",
    "bounced",
    "complaint",
    "unsubscribed",
    "meeting_booked",
)
DEFAULT_STAGES = ("lead", "mql", "sql", "opportunity", "won", "lost")
WEB_EVENT_TYPES = ("page_view", "form_start", "form_submit", "click", "chat_start", "exposure", "conversion")


@dataclass(frozen=True)
class Column:
    """One column of the canonical model."""

    name: str
    dtype: str  # ibis type name: string, int64, float64, boolean, timestamp, date
    required: bool
    description: str
    description_fr: str
    allowed: tuple[str, ...] | None = None
    references: str | None = None  # "table.column" this column points to

    @property
    def is_time(self) -> bool:
        return self.dtype in ("timestamp", "date")


@dataclass(frozen=True)
class Table:
    """One table of the canonical model."""

    name: str
    description: str
    description_fr: str
    key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)
    time_column: str | None = None
    optional: bool = False

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def ibis_schema(self) -> object:
        import ibis

        return ibis.schema({c.name: c.dtype for c in self.columns})


def _c(name, dtype, required, en, fr, allowed=None, references=None) -> Column:  # noqa: ANN001
    return Column(name, dtype, required, en, fr, tuple(allowed) if allowed else None, references)


LEADS = Table(
    "leads",
    "One row per lead (a person who entered the funnel).",
    "Une ligne par lead (une personne entrée dans l'entonnoir).",
    key=("lead_id",),
    time_column="created_at",
    columns=(
        _c("lead_id", "string", True, "Unique lead identifier.", "Identifiant unique du lead."),
        _c("account_id", "string", False, "Company/account the lead belongs to.", "Compte (entreprise) du lead."),
        _c("created_at", "timestamp", True, "When the lead was created (UTC).", "Date de création du lead (UTC)."),
        _c("source", "string", False, "Original source (e.g. website, event, list).", "Source d'origine (site, salon, fichier…)."),
        _c("channel", "string", False, "Acquisition channel.", "Canal d'acquisition.", CHANNELS),
        _c("company_size", "string", False, "Company size band.", "Taille d'entreprise.", COMPANY_SIZES),
        _c("campaign_id", "string", False, "Campaign that generated the lead.", "Campagne à l'origine du lead."),
        _c("owner", "string", False, "Sales rep who owns the lead.", "Commercial propriétaire du lead."),
        _c("team", "string", False, "Team of the owner.", "Équipe du propriétaire."),
        _c("country", "string", False, "ISO 3166 country code.", "Code pays ISO 3166."),
        _c("timezone", "string", False, "IANA time zone of the lead (e.g. Europe/Paris).", "Fuseau horaire IANA du lead (ex. Europe/Paris)."),
        _c("opted_out_at", "timestamp", False, "When the lead opted out of all contact (UTC); empty if never.", "Date d'opposition à tout contact (UTC) ; vide sinon."),
        _c("vip", "boolean", False, "VIP flag: contact only through the validated channel.", "Drapeau VIP : contact par le seul canal validé."),
        _c("litigation", "boolean", False, "Open litigation: escalate to a manager.", "Litige en cours : escalade au manager."),
        _c("do_not_contact", "boolean", False, "Do-not-contact flag.", "Drapeau « ne pas contacter »."),
        _c("score", "float64", False, "Lead score (0–100).", "Score du lead (0–100)."),
    ),
)

STAGE_EVENTS = Table(
    "stage_events",
    "Funnel stages reached by each lead.",
    "Étapes de l'entonnoir atteintes par chaque lead.",
    key=("lead_id", "stage", "at"),
    time_column="at",
    columns=(
        _c("lead_id", "string", True, "Lead that reached the stage.", "Lead ayant atteint l'étape.", references="leads.lead_id"),
        _c("stage", "string", True, "Stage reached (the workspace's ordered list; default lead, mql, sql, opportunity, won, lost).", "Étape atteinte (liste ordonnée de l'espace ; par défaut lead, mql, sql, opportunity, won, lost)."),
        _c("at", "timestamp", True, "When the stage was reached (UTC).", "Date d'atteinte de l'étape (UTC)."),
    ),
)

TOUCHES = Table(
    "touches",
    "Every contact attempt or interaction with a lead (activity log).",
    "Chaque tentative de contact ou interaction avec un lead (journal d'activité).",
    key=("touch_id",),
    time_column="at",
    columns=(
        _c("touch_id", "string", True, "Unique touch identifier.", "Identifiant unique de la touche."),
        _c("lead_id", "string", True, "Lead touched.", "Lead contacté.", references="leads.lead_id"),
        _c("at", "timestamp", True, "When the touch happened (UTC).", "Date de la touche (UTC)."),
        _c("channel", "string", True, "Touch channel.", "Canal de la touche.", TOUCH_CHANNELS),
        _c("direction", "string", False, "out (we contacted them) or in (they contacted us).", "out (sortant) ou in (entrant).", DIRECTIONS),
        _c("owner", "string", False, "Rep who made the touch.", "Commercial auteur de la touche."),
        _c("outcome", "string", False, "What happened.", "Résultat de la touche.", OUTCOMES),
        _c("campaign_id", "string", False, "Campaign or sequence the touch belongs to.", "Campagne ou séquence de la touche."),
    ),
)

DEALS = Table(
    "deals",
    "Opportunities / deals.",
    "Opportunités / affaires.",
    key=("deal_id",),
    time_column="created_at",
    columns=(
        _c("deal_id", "string", True, "Unique deal identifier.", "Identifiant unique de l'affaire."),
        _c("lead_id", "string", False, "Lead the deal came from.", "Lead d'origine de l'affaire.", references="leads.lead_id"),
        _c("account_id", "string", False, "Account of the deal.", "Compte de l'affaire."),
        _c("created_at", "timestamp", True, "When the deal was created (UTC).", "Date de création (UTC)."),
        _c("stage", "string", False, "Current deal stage.", "Étape actuelle de l'affaire."),
        _c("amount", "float64", False, "Deal amount.", "Montant."),
        _c("currency", "string", False, "ISO 4217 currency code.", "Devise ISO 4217."),
        _c("closed_at", "timestamp", False, "When the deal was closed (UTC).", "Date de clôture (UTC)."),
        _c("won", "boolean", False, "True if won, false if lost, empty while open.", "Vrai si gagnée, faux si perdue, vide si ouverte."),
        _c("lost_reason", "string", False, "Why the deal was lost.", "Raison de la perte."),
    ),
)

SPEND = Table(
    "spend",
    "Marketing spend per day, channel/source and campaign.",
    "Dépenses marketing par jour, canal/source et campagne.",
    key=("date", "source", "campaign_id"),
    time_column="date",
    columns=(
        _c("date", "date", True, "Day of the spend.", "Jour de la dépense."),
        _c("source", "string", True, "Channel or source paid (e.g. google_ads, linkedin).", "Canal ou source payé (ex. google_ads, linkedin)."),
        _c("campaign_id", "string", False, "Campaign.", "Campagne."),
        _c("cost", "float64", True, "Amount spent.", "Montant dépensé."),
        _c("currency", "string", False, "ISO 4217 currency code.", "Devise ISO 4217."),
    ),
)

WEB_EVENTS = Table(
    "web_events",
    "Web analytics events (page views, form steps, clicks), stitched to leads when known.",
    "Événements web (pages vues, étapes de formulaire, clics), rattachés aux leads quand c'est connu.",
    key=("event_id",),
    time_column="at",
    columns=(
        _c("event_id", "string", True, "Unique event identifier.", "Identifiant unique de l'événement."),
        _c("anonymous_id", "string", True, "Visitor cookie / device id.", "Identifiant anonyme du visiteur."),
        _c("lead_id", "string", False, "Lead, when the visitor was identified.", "Lead, quand le visiteur est identifié.", references="leads.lead_id"),
        _c("at", "timestamp", True, "When the event happened (UTC).", "Date de l'événement (UTC)."),
        _c("type", "string", True, "Event type.", "Type d'événement.", WEB_EVENT_TYPES),
        _c("page", "string", False, "Page path.", "Chemin de la page."),
        _c("utm_source", "string", False, "UTM source.", "Source UTM."),
        _c("utm_medium", "string", False, "UTM medium.", "Support UTM."),
        _c("utm_campaign", "string", False, "UTM campaign.", "Campagne UTM."),
        _c("referrer", "string", False, "Referrer URL or host.", "Référent (URL ou hôte)."),
        _c("variant", "string", False, "Experiment variant shown, if any.", "Variante d'expérience affichée, le cas échéant."),
    ),
)

ASSIGNMENTS = Table(
    "assignments",
    "Experiment assignments: which unit saw which variant.",
    "Affectations d'expérience : quelle unité a vu quelle variante.",
    key=("experiment_key", "unit_id"),
    time_column="assigned_at",
    columns=(
        _c("experiment_key", "string", True, "Experiment identifier.", "Identifiant de l'expérience."),
        _c("unit_id", "string", True, "Randomisation unit (lead, account or visitor id).", "Unité randomisée (lead, compte ou visiteur)."),
        _c("variant", "string", True, "Variant assigned.", "Variante affectée."),
        _c("assigned_at", "timestamp", True, "When the unit was assigned (UTC).", "Date d'affectation (UTC)."),
    ),
)

ORDERS = Table(
    "orders",
    "Orders, for retention and customer lifetime value (optional).",
    "Commandes, pour la rétention et la valeur vie client (facultatif).",
    key=("order_id",),
    time_column="at",
    optional=True,
    columns=(
        _c("order_id", "string", True, "Unique order identifier.", "Identifiant unique de la commande."),
        _c("account_id", "string", True, "Account that ordered.", "Compte ayant commandé."),
        _c("at", "timestamp", True, "When the order was placed (UTC).", "Date de la commande (UTC)."),
        _c("amount", "float64", True, "Order amount.", "Montant de la commande."),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (LEADS, STAGE_EVENTS, TOUCHES, DEALS, SPEND, WEB_EVENTS, ASSIGNMENTS, ORDERS)
}
TABLE_NAMES = tuple(TABLES)


def table(name: str) -> Table:
    """The canonical table ``name``; raises :class:`SchemaError` naming the valid ones."""
    from levier.errors import SchemaError

    try:
        return TABLES[name]
    except KeyError:
        from levier.i18n import gettext as _

        raise SchemaError(
            _("Unknown table '{name}'.", name=name), hint=_("Use one of: {names}.", names=", ".join(TABLE_NAMES))
        ) from None


def render_markdown() -> str:
    """The data-model reference page (``docs/data-model.md``)."""
    lines = [
        "# Data model / Modèle de données",
        "",
        "<!-- Generated by `python -m levier.data.schema`; do not edit by hand. -->",
        "",
        "All timestamps are stored in UTC (naive `timestamp`). Imports convert naive source",
        "timestamps from the `--timezone` given (default: the workspace time zone). Enumerated",
        "columns are lower-case. The key of each table is unique; importing a row whose key",
        "already exists replaces it (the latest import wins).",
        "",
        "Tous les horodatages sont stockés en UTC. Les imports convertissent les dates naïves depuis",
        "le fuseau `--timezone`. La clé de chaque table est unique ; un import remplace une ligne",
        "de même clé (le dernier import l'emporte).",
        "",
    ]
    for t in TABLES.values():
        opt = " (optional / facultative)" if t.optional else ""
        lines += [f"## `{t.name}`{opt}", "", t.description, "", f"*{t.description_fr}*", ""]
        lines += [f"Key / clé : `{', '.join(t.key)}`", ""]
        lines += ["| column | type | required | meaning | signification | values / references |",
                  "|---|---|---|---|---|---|"]
        for c in t.columns:
            extra = ", ".join(c.allowed) if c.allowed else (f"→ `{c.references}`" if c.references else "")
            lines.append(
                f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | {c.description} | {c.description_fr} | {extra} |"
            )
        lines.append("")
    return "\n".join(lines)


