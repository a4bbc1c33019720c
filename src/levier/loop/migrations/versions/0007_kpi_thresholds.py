"""KPI alert thresholds: lower / upper bounds per KPI, overall or for one lead segment

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kpi_thresholds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kpi_key', sa.String(length=80), nullable=False),
    sa.Column('segment_key', sa.String(length=300), nullable=False),
    sa.Column('segment', sa.JSON(), nullable=True),
    sa.Column('lower', sa.Float(), nullable=True),
    sa.Column('upper', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_thresholds')),
    sa.UniqueConstraint('kpi_key', 'segment_key', name=op.f('uq_kpi_thresholds_kpi_key'))
    )
    op.create_index(op.f('ix_kpi_thresholds_kpi_key'), 'kpi_thresholds', ['kpi_key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_kpi_thresholds_kpi_key'), table_name='kpi_thresholds')
    op.drop_table('kpi_thresholds')
