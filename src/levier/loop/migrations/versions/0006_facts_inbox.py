"""facts inbox: facts rows queued by web workers that open the facts read-only

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('facts_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('match_key', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('preset', sa.String(length=60), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('claim', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facts_inbox'))
    )
    with op.batch_alter_table('facts_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facts_inbox_claim'), ['claim'], unique=False)
        batch_op.create_index(batch_op.f('ix_facts_inbox_match_key'), ['match_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_facts_inbox_table_name'), ['table_name'], unique=False)


def downgrade() -> None:
    op.drop_table('facts_inbox')
