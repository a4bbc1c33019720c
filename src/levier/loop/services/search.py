"""Full-text search across learnings and playbook entries, with filters.

SQLite: the ``loop_search`` FTS5 table (created by migration 0003, kept in step by
:func:`index_learning` / :func:`index_entry`; :func:`reindex` rebuilds it). PostgreSQL:
``to_tsvector('simple', …) @@ plainto_tsquery('simple', …)`` on the rows, backed by GIN
indexes. Other databases fall back to a case-insensitive ``LIKE`` on every word.
Filters (channel, segment, outcome, kpi, quarter) are exact matches; on a playbook entry,
``outcome`` matches the outcome of a linked learning and ``quarter`` the quarter it was
standardised (or created) in.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.loop.models import Learning, PlaybookEntry, PlaybookLink
from levier.loop.services._common import quarter_of

__all__ = ["index_learning", "index_entry", "reindex", "search", "FILTERS"]

FILTERS = ("channel", "segment", "outcome", "kpi", "quarter")
LEARNING_TEXT = "coalesce(title,'') || ' ' || coalesce(body,'') || ' ' || coalesce(cause,'') || ' ' || coalesce(lesson,'')"
ENTRY_TEXT = "coalesce(title,'') || ' ' || coalesce(body,'')"
_WORD = re.compile(r"\w+", re.UNICODE)
#: matched ids are pushed into SQL as one ``IN`` up to this many (SQLite's default bound on parameters is far above)
MAX_IN = 5000


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def _put(s: Session, kind: str, ref_id: int, title: str, body: str) -> None:
    if _dialect(s) != "sqlite":
        return
    s.execute(sa.text("DELETE FROM loop_search WHERE kind = :k AND ref_id = :i"), {"k": kind, "i": ref_id})
    s.execute(sa.text("INSERT INTO loop_search(kind, ref_id, title, body) VALUES (:k, :i, :t, :b)"), {"k": kind, "i": ref_id, "t": title, "b": body})


def index_learning(s: Session, row: Learning) -> None:
    _put(s, "learning", row.id, row.title, " ".join(x for x in (row.body, row.cause, row.lesson) if x))


def index_entry(s: Session, row: PlaybookEntry) -> None:
    _put(s, "playbook", row.id, row.title, row.body or "")


def reindex(s: Session) -> int:
    """Rebuild the SQLite search index from the rows; returns how many documents it holds."""
    if _dialect(s) != "sqlite":
        return 0
    s.execute(sa.text("DELETE FROM loop_search"))
    rows = [*s.scalars(sa.select(Learning)), *s.scalars(sa.select(PlaybookEntry))]
    for row in rows:
        index_learning(s, row) if isinstance(row, Learning) else index_entry(s, row)
    return len(rows)


def _matches(s: Session, query: str) -> dict[tuple[str, int], float]:
    """(kind, id) → relevance (higher is better) for every document matching all words."""
    words = _WORD.findall(query)
    if not words:
        return {}
    dialect = _dialect(s)
    if dialect == "sqlite":
        fts = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = s.execute(sa.text("SELECT kind, ref_id, bm25(loop_search) FROM loop_search WHERE loop_search MATCH :q"), {"q": fts})
        return {(k, int(i)): -float(r) for k, i, r in rows}
    out: dict[tuple[str, int], float] = {}
    for kind, table, text in (("learning", "learnings", LEARNING_TEXT), ("playbook", "playbook_entries", ENTRY_TEXT)):
        if dialect == "postgresql":
            vec, q = f"to_tsvector('simple', {text})", "plainto_tsquery('simple', :q)"
            sql = f"SELECT id, ts_rank({vec}, {q}) FROM {table} WHERE {vec} @@ {q}"  # noqa: S608 - fixed identifiers
            rows = s.execute(sa.text(sql), {"q": " ".join(words)})
        else:
            cond = " AND ".join(f"lower({text}) LIKE :w{i}" for i in range(len(words)))
            rows = s.execute(sa.text(f"SELECT id, 1.0 FROM {table} WHERE {cond}"), {f"w{i}": f"%{w.lower()}%" for i, w in enumerate(words)})  # noqa: S608
        out.update({(kind, int(i)): float(r) for i, r in rows})
    return out


def _learning_ok(row: Learning, f: dict[str, Any]) -> bool:
    checks = {"channel": row.channel, "segment": row.segment, "outcome": row.outcome, "kpi": row.kpi_key, "quarter": row.quarter}
    return all(f.get(k) is None or checks[k] == f[k] for k in FILTERS)


def _entry_ok(s: Session, row: PlaybookEntry, f: dict[str, Any]) -> bool:
    checks = {"channel": row.channel, "segment": row.segment, "kpi": row.kpi_key, "quarter": quarter_of(row.standardised_at or row.created_at)}
    if not all(f.get(k) is None or checks[k] == f[k] for k in ("channel", "segment", "kpi", "quarter")):
        return False
    if f.get("outcome") is None:
        return True
    linked = s.scalars(
        sa.select(Learning.outcome).join(PlaybookLink, PlaybookLink.learning_id == Learning.id).where(PlaybookLink.entry_id == row.id)
    )
    return f["outcome"] in set(linked)


def _only(stmt: Any, column: Any, ranked: dict[tuple[str, int], float] | None, kind: str) -> Any:
    """Restrict ``stmt`` to the matched ids of ``kind`` (when the query has words and they are few enough for one IN)."""
    if ranked is None:
        return stmt
    ids = [i for k, i in ranked if k == kind]
    return stmt.where(column.in_(ids)) if len(ids) <= MAX_IN else stmt


def _learning_rows(ranked: dict[tuple[str, int], float] | None, f: dict[str, Any], limit: int) -> Any:
    """The learnings to look at: the matched ones, the exact filters in SQL; without words the first ``limit`` suffice."""
    stmt = _only(sa.select(Learning).order_by(Learning.id), Learning.id, ranked, "learning")
    for name, column in (("channel", Learning.channel), ("segment", Learning.segment), ("outcome", Learning.outcome),
                         ("kpi", Learning.kpi_key), ("quarter", Learning.quarter)):
        if f.get(name) is not None:
            stmt = stmt.where(column == f[name])
    return stmt.limit(limit) if ranked is None else stmt


def _entry_rows(ranked: dict[tuple[str, int], float] | None, f: dict[str, Any], include_retired: bool, limit: int) -> Any:
    """The playbook entries to look at (``outcome`` = that of a linked learning, one sub-query); ``quarter`` stays in Python."""
    stmt = _only(sa.select(PlaybookEntry).order_by(PlaybookEntry.id), PlaybookEntry.id, ranked, "playbook")
    if not include_retired:
        stmt = stmt.where(PlaybookEntry.status != "retired")
    for name, column in (("channel", PlaybookEntry.channel), ("segment", PlaybookEntry.segment), ("kpi", PlaybookEntry.kpi_key)):
        if f.get(name) is not None:
            stmt = stmt.where(column == f[name])
    if f.get("outcome") is not None:
        linked = sa.select(PlaybookLink.entry_id).join(Learning, PlaybookLink.learning_id == Learning.id).where(Learning.outcome == f["outcome"])
        stmt = stmt.where(PlaybookEntry.id.in_(linked))
    return stmt.limit(limit) if ranked is None and f.get("quarter") is None else stmt


def search(
    s: Session, query: str = "", *, kinds: tuple[str, ...] = ("learning", "playbook"), include_retired: bool = False,
    limit: int = 50, **filters: Any,
) -> list[dict[str, Any]]:
    """Learnings and playbook entries matching every word of ``query`` (all when empty) and the filters."""
    from levier.loop.services._common import clean_fields

    clean_fields(filters, set(FILTERS))
    ranked = _matches(s, query) if query.strip() else None
    hits: list[dict[str, Any]] = []
    if "learning" in kinds:
        for row in s.scalars(_learning_rows(ranked, filters, limit)):
            if (ranked is None or ("learning", row.id) in ranked) and _learning_ok(row, filters):
                hits.append({"kind": "learning", "id": row.id, "title": row.title, "score": ranked.get(("learning", row.id), 0.0) if ranked else 0.0, "item": row.to_dict()})
    if "playbook" in kinds:
        for row in s.scalars(_entry_rows(ranked, filters, include_retired, limit)):
            if (ranked is None or ("playbook", row.id) in ranked) and _entry_ok(s, row, {**filters, "outcome": None}):
                hits.append({"kind": "playbook", "id": row.id, "title": row.title, "score": ranked.get(("playbook", row.id), 0.0) if ranked else 0.0, "item": row.to_dict()})
    hits.sort(key=lambda h: (-h["score"], h["kind"], h["id"]))
    return hits[:limit]
