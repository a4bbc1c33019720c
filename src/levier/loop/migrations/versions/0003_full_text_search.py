"""full-text search over learnings and playbook entries (SQLite FTS5 / PostgreSQL tsvector)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 17:25:00

SQLite: a ``loop_search`` FTS5 table that the services keep in step with the rows (and that
this migration back-fills from the rows already there). PostgreSQL: GIN indexes on the same
``to_tsvector('simple', …)`` expressions the search query uses.
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

LEARNING_TEXT = "coalesce(title,'') || ' ' || coalesce(body,'') || ' ' || coalesce(cause,'') || ' ' || coalesce(lesson,'')"
ENTRY_TEXT = "coalesce(title,'') || ' ' || coalesce(body,'')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE loop_search USING fts5("
            "kind UNINDEXED, ref_id UNINDEXED, title, body, tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "INSERT INTO loop_search(kind, ref_id, title, body) SELECT 'learning', id, title, "
            "coalesce(body,'') || ' ' || coalesce(cause,'') || ' ' || coalesce(lesson,'') FROM learnings"
        )
        op.execute(
            "INSERT INTO loop_search(kind, ref_id, title, body) SELECT 'playbook', id, title, coalesce(body,'') FROM playbook_entries"
        )
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_learnings_fts ON learnings USING gin (to_tsvector('simple', {LEARNING_TEXT}))")
        op.execute(f"CREATE INDEX ix_playbook_entries_fts ON playbook_entries USING gin (to_tsvector('simple', {ENTRY_TEXT}))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE loop_search")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_learnings_fts")
        op.execute("DROP INDEX ix_playbook_entries_fts")
