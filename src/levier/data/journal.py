"""The cleaning journal: what each cleaning rule excluded or flagged, how many rows and why.

Two bookkeeping tables of the facts store (schemas in :mod:`levier.data.facts`):
``_journal`` keeps one row per rule and category of every run (history is kept) and
``_exclusions`` holds the row ids the current cleaning excludes (replaced at each run).
``--undo RULE`` and ``--reset`` restore rows and are journalled too (action ``undo`` /
``reset``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from levier.data._checks import as_json_value
from levier.data.facts import JOURNAL_SCHEMA
from levier.errors import OptionError
from levier.i18n import N_
from levier.i18n import gettext as _

if TYPE_CHECKING:
    from levier.workspace import Workspace

__all__ = [
    "JournalEntry",
    "JournalSummary",
    "RestoreResult",
    "CleaningLag",
    "CLEANING_LAG",
    "cleaning_lag",
    "REASONS",
    "journal_summary",
    "read_journal",
    "write_journal",
    "next_run_id",
    "undo_rule",
    "reset_cleaning",
    "transaction",
]


#: English reason of each rule (and category); French in locales/fr/.../quality.po.
REASONS: dict[str, str] = {
    "exact_duplicates": N_("Same lead, time, channel, direction, owner, outcome and campaign as an earlier row: the copy is excluded, the lowest row id is kept."),
    "near_duplicates": N_("Same lead, channel and direction less than {seconds} s after an earlier-recorded touch: a double entry, excluded (the lowest row id is kept)."),
    "future_dates": N_("{column} after the extraction time {as_of}: impossible, excluded."),
    "dates_before_2000": N_("{column} before 2000-01-01: impossible (a default or typo date), excluded."),
    "negative_amounts": N_("Negative {column}: impossible, excluded."),
    "score_out_of_range": N_("Lead score outside {low}–{high}: the lead is kept, its score should not be used (flag)."),
    "orphans": N_("{column} matches no lead: the row cannot be attributed, excluded."),
    "orphans:flag": N_("{column} matches no lead: kept for web analytics, flagged."),
    "missing_opportunity": N_("Won (stage or deal) without an opportunity stage: a missing event, flagged (not excluded)."),
    "stage_skipped": N_("A stage is missing between two stages the lead reached ({stages}): flagged (not excluded)."),
    "timezone_shift": N_("Touches of one owner during one week shifted by whole hours (time zone error at import): kept, flagged; fix the time zone and import again."),
    "rep_day_outliers:error": N_("More than {max_per_day} outbound touches by one rep in one day (median {median}, robust z > {z}): not humanly possible (bulk logging or an integration loop): that day's outbound touches that fit no ongoing cadence are excluded."),
    "rep_day_outliers:exceptional": N_("Unusually many outbound touches by one rep in one day (median {median}, robust z > {z}) but plausible: an exceptional day (event, blitz), flagged."),
    "lead_outliers:error": N_("At least {max_per_lead} outbound touches on one lead: not plausible, probably a logging error; flagged."),
    "lead_outliers:risk": N_("Many outbound touches (≥ {cut}, median {median}) on a lead that complained, unsubscribed, opted out, is in litigation or do-not-contact, or never converted: over-solicitation risk, flagged."),
    "lead_outliers:exceptional": N_("Many outbound touches (≥ {cut}, median {median}) on a VIP or high-value lead (deal ≥ {high_value}): an exceptional case, flagged."),
    "lead_outliers:opportunity": N_("Many outbound touches (≥ {cut}, median {median}) on a lead that converted: persistence paid, an opportunity to learn from, flagged."),
    "undo": N_("Rows excluded by this rule restored by `levier clean --undo`."),
    "reset": N_("Every excluded row restored by `levier clean --reset`."),
}


@dataclass(frozen=True)
class JournalEntry:
    """The effect of one rule (and category) on one table in one cleaning run."""

    table_name: str
    rule: str
    action: str  # exclude | flag | undo | reset
    category: str  # duplicate | impossible | missing | error | exceptional | opportunity | risk
    rows_affected: int
    reason: str
    examples: tuple[dict[str, Any], ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    run_id: int = 0
    ran_at: datetime | None = None

    @property
    def reason_key(self) -> str:
        for key in (f"{self.rule}:{self.category}", f"{self.rule}:{self.action}", self.rule, self.action):
            if key in REASONS:
                return key
        return self.rule

    def text(self, lang: str | None = None) -> str:
        """The reason in ``lang``."""
        template = REASONS.get(self.reason_key)
        if template is None:
            return self.reason
        try:
            return _(template, lang=lang, **self.params)
        except (KeyError, IndexError, ValueError):
            return self.reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ran_at": self.ran_at.isoformat() if self.ran_at else None,
            "table_name": self.table_name,
            "rule": self.rule,
            "action": self.action,
            "category": self.category,
            "rows_affected": self.rows_affected,
            "reason": self.reason,
            "examples": [dict(e) for e in self.examples],
            "params": {k: as_json_value(v) for k, v in self.params.items()},
        }


def make_entry(table_name: str, rule: str, action: str, category: str, rows: int,
               examples: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (), **params: Any) -> JournalEntry:
    entry = JournalEntry(table_name, rule, action, category, int(rows), "", tuple(examples), dict(params))
    return _with(entry, reason=entry.text("en"))


def _with(entry: JournalEntry, **changes: Any) -> JournalEntry:
    from dataclasses import replace

    return replace(entry, **changes)


# -- storage --------------------------------------------------------------------------------
def next_run_id(ws: Workspace) -> int:
    """One more than the journal's last run (what the next run will show; writers take theirs with
    :func:`levier.data.inbox_flush.take_run`, unique across processes)."""
    value = ws.facts.journal().run_id.max().execute()
    return 1 if value is None or pd.isna(value) else int(value) + 1


def write_journal(ws: Workspace, entries: list[JournalEntry] | tuple[JournalEntry, ...]) -> None:
    if not entries:
        return
    rows = [{
        "run_id": e.run_id, "ran_at": e.ran_at, "table_name": e.table_name, "rule": e.rule, "action": e.action,
        "category": e.category, "rows_affected": e.rows_affected, "reason": e.reason,
        "examples": json.dumps(list(e.to_dict()["examples"]), ensure_ascii=False, sort_keys=True),
        "params": json.dumps(e.to_dict()["params"], ensure_ascii=False, sort_keys=True),
    } for e in entries]
    ws.facts.con.insert("_journal", ibis.memtable(pd.DataFrame(rows), schema=JOURNAL_SCHEMA))


def read_journal(ws: Workspace) -> list[JournalEntry]:
    """Every journal entry, oldest run first (the journal is small)."""
    from levier.data.clean import RULES

    df = ws.facts.journal().execute()
    order = {name: i for i, name in enumerate(RULES)}
    out = []
    for row in df.to_dict("records"):
        ran_at = row["ran_at"]
        out.append(JournalEntry(
            table_name=row["table_name"], rule=row["rule"], action=row["action"], category=row["category"],
            rows_affected=int(row["rows_affected"]), reason=row["reason"] or "",
            examples=tuple(json.loads(row["examples"] or "[]")), params=json.loads(row["params"] or "{}"),
            run_id=int(row["run_id"]), ran_at=pd.Timestamp(ran_at).to_pydatetime() if ran_at is not None and not pd.isna(ran_at) else None,
        ))
    out.sort(key=lambda e: (e.run_id, order.get(e.rule, len(order)), e.table_name, e.category))
    return out


def is_duckdb(ws: Workspace) -> bool:
    return ws.facts.backend_name == "duckdb"


@contextmanager
def transaction(ws: Workspace) -> Iterator[None]:
    """A DuckDB transaction (other engines: no-op, writes are ordered to be safe)."""
    if not is_duckdb(ws):
        yield
        return
    raw = ws.facts.con.con
    raw.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")


# -- summary --------------------------------------------------------------------------------
@dataclass(frozen=True)
class JournalSummary:
    """The current cleaning state: the latest run's entries, minus what was restored since."""

    run_id: int | None
    ran_at: datetime | None
    entries: tuple[JournalEntry, ...]
    restored: tuple[JournalEntry, ...] = ()
    excluded: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ran_at": self.ran_at.isoformat() if self.ran_at else None,
            "excluded": dict(self.excluded),
            "entries": [e.to_dict() for e in self.entries],
            "restored": [e.to_dict() for e in self.restored],
        }

    def to_frame(self) -> pd.DataFrame:
        cols = ["table_name", "rule", "action", "category", "rows_affected", "reason"]
        return pd.DataFrame([{c: getattr(e, c) for c in cols} for e in self.entries], columns=cols)

    def summary(self, lang: str | None = None) -> str:
        if self.run_id is None:
            return _("No cleaning run yet: run `levier clean`.", lang=lang)
        lines = [_("Cleaning run {run_id} of {ran_at}.", lang=lang, run_id=self.run_id,
                   ran_at=self.ran_at.isoformat(sep=" ", timespec="seconds") if self.ran_at else "-")]
        lines += entry_lines(self.entries, lang)
        for e in self.restored:
            lines.append("- " + _("{rule}: {n} rows restored ({action}).", lang=lang, rule=e.rule, n=e.rows_affected, action=e.action))
        total = sum(self.excluded.values())
        lines.append(_("Rows excluded now: {n}.", lang=lang, n=total))
        return "\n".join(lines)


def entry_lines(entries: tuple[JournalEntry, ...] | list[JournalEntry], lang: str | None) -> list[str]:
    lines = []
    for e in entries:
        verb = _("excluded", lang=lang) if e.action == "exclude" else _("flagged", lang=lang)
        lines.append(f"- {e.table_name} · {e.rule} [{e.category}]: {e.rows_affected} {verb} — {e.text(lang)}")
    return lines


def current_exclusions(ws: Workspace) -> dict[str, int]:
    excl = ws.facts.con.table("_exclusions")
    df = excl.group_by("table_name").aggregate(n=excl.count()).execute()
    return {str(t): int(n) for t, n in sorted(zip(df["table_name"], df["n"], strict=True))}


def journal_summary(ws: Workspace) -> JournalSummary:
    """Per rule of the latest cleaning run: rows affected, category and reason (for reports)."""
    entries = read_journal(ws)
    runs = [e.run_id for e in entries if e.action in ("exclude", "flag", "none")]
    if not runs:
        return JournalSummary(None, None, (), excluded=current_exclusions(ws))
    last = max(runs)
    current = [e for e in entries if e.run_id == last and e.action in ("exclude", "flag")]
    restored = tuple(e for e in entries if e.run_id > last and e.action in ("undo", "reset"))
    undone = {e.rule for e in restored if e.action == "undo"}
    if any(e.action == "reset" for e in restored):
        undone = {e.rule for e in current if e.action == "exclude"}
    current = [_with(e, rows_affected=0) if (e.rule in undone and e.action == "exclude") else e for e in current]
    ran_at = next((e.ran_at for e in entries if e.run_id == last), None)
    return JournalSummary(last, ran_at, tuple(current), restored, current_exclusions(ws))


CLEANING_LAG = N_("{imports} file import(s) since the last cleaning ({when}): {inserted} new rows are not cleaned and "
                  "{replaced} replaced rows lost their exclusions; run `levier clean` again.")


@dataclass(frozen=True)
class CleaningLag:
    """File imports made after the latest cleaning run: their rows are not covered by it.

    A keyed re-import replaces rows under new row ids, so an exclusion of a replaced row lapses
    (the new row is visible again) until ``levier clean`` runs again.
    """

    cleaned_at: datetime
    imports: int
    rows_inserted: int  # new keys (rows that replaced an older row are counted in rows_replaced)
    rows_replaced: int

    def to_dict(self) -> dict[str, Any]:
        return {"cleaned_at": self.cleaned_at.isoformat(sep=" "), "imports": self.imports,
                "rows_inserted": self.rows_inserted, "rows_replaced": self.rows_replaced}

    def params(self) -> dict[str, Any]:
        """Parameters of :data:`CLEANING_LAG` (audit warnings are stored as message id + params)."""
        return {"imports": self.imports, "when": self.cleaned_at.isoformat(sep=" ", timespec="minutes"),
                "inserted": self.rows_inserted, "replaced": self.rows_replaced}

    def message(self, lang: str | None = None) -> str:
        return _(CLEANING_LAG, lang=lang, **self.params())


def cleaning_lag(ws: Workspace) -> CleaningLag | None:
    """File imports after the latest cleaning run (None if never cleaned or nothing imported since).

    Rows appended by Levier itself (presets ``levier-…``: posted touches, live experiment events)
    do not count: they are written one by one as they happen, and cleaning is a monthly step.
    """
    journal = ws.facts.journal()
    runs = journal.filter(journal.action.isin(["exclude", "flag", "none"]))
    last = runs.order_by([ibis.desc("run_id")]).select("ran_at", "params").limit(1).execute()
    if last.empty:
        return None
    cleaned_at = pd.Timestamp(last["ran_at"].iloc[0]).to_pydatetime()
    last_batch = json.loads(last["params"].iloc[0] or "{}").get("last_batch", "unknown")
    imp = ws.facts.imports()
    if last_batch == "unknown":  # a journal written before the batch watermark: compare times (second precision)
        after = imp.imported_at > ibis.literal(cleaned_at, type="timestamp")
    else:
        after = imp.batch_id > (-1 if last_batch is None else int(last_batch))
    since = imp.filter(after & (imp.preset.isnull() | ~imp.preset.startswith("levier-")))
    row = since.aggregate(n=since.count(), ins=since.rows_inserted.sum(), rep=since.rows_replaced.sum()).execute()
    n = int(row["n"].iloc[0])
    if n == 0:
        return None
    as_int = lambda v: 0 if v is None or pd.isna(v) else int(v)  # noqa: E731
    replaced = as_int(row["rep"].iloc[0])
    return CleaningLag(cleaned_at, n, as_int(row["ins"].iloc[0]) - replaced, replaced)


# -- undo / reset ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreResult:
    """What ``--undo RULE`` or ``--reset`` restored."""

    run_id: int
    action: str
    rule: str
    restored: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "action": self.action, "rule": self.rule, "restored": dict(self.restored)}

    def summary(self, lang: str | None = None) -> str:
        n = sum(self.restored.values())
        if self.action == "reset":
            return _("{n} excluded rows restored: the cleaned view is the raw data again.", lang=lang, n=n)
        return _("{n} rows excluded by {rule} restored.", lang=lang, n=n, rule=self.rule)


def _restore(ws: Workspace, rule: str | None) -> RestoreResult:
    excl = ws.facts.con.table("_exclusions")
    sel = excl if rule is None else excl.filter(excl.rule == rule)
    df = sel.group_by("table_name").aggregate(n=sel.count()).execute()
    restored = {str(t): int(n) for t, n in zip(df["table_name"], df["n"], strict=True)}
    from levier.data.inbox_flush import take_run

    run_id, now = take_run(ws), datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    action = "reset" if rule is None else "undo"
    entries = [make_entry(t, rule or "*", action, "restore", n) for t, n in sorted(restored.items())]
    entries = [_with(e, run_id=run_id, ran_at=now) for e in entries] or [
        _with(make_entry("*", rule or "*", action, "restore", 0), run_id=run_id, ran_at=now)]
    with transaction(ws):
        if is_duckdb(ws):
            where = "" if rule is None else " WHERE rule = ?"
            ws.facts.con.con.execute("DELETE FROM _exclusions" + where, [] if rule is None else [rule])
        else:
            keep = excl.filter(ibis.literal(False) if rule is None else excl.rule != rule).to_pyarrow()
            ws.facts.con.insert("_exclusions", ibis.memtable(keep), overwrite=True)
        write_journal(ws, entries)
    return RestoreResult(run_id, action, rule or "*", restored)


def undo_rule(ws: Workspace, rule: str) -> RestoreResult:
    """Restore the rows ``rule`` excluded (until the next ``levier clean``)."""
    from levier.data.clean import RULES

    if rule not in RULES:
        raise OptionError(_("Unknown cleaning rule '{rule}'.", rule=rule), hint=_("Rules: {rules}.", rules=", ".join(RULES)))
    return _restore(ws, rule)


def reset_cleaning(ws: Workspace) -> RestoreResult:
    """Restore every excluded row (the cleaned view becomes the raw data)."""
    return _restore(ws, None)
