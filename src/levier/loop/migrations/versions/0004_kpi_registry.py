"""KPI registry: definitions, SMART targets, OKRs, dashboards, alerts, stored time series

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = ('kpi_series_state', 'kpi_points', 'okr_key_results', 'okr_objectives', 'kpi_definitions', 'kpi_alerts', 'kpi_targets', 'kpi_dashboards')


def upgrade() -> None:
    op.create_table('kpi_dashboards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('kpi_keys', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_dashboards')),
    sa.UniqueConstraint('name', name=op.f('uq_kpi_dashboards_name'))
    )
    op.create_table('kpi_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kpi_key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('baseline_date', sa.Date(), nullable=True),
    sa.Column('segment', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_targets'))
    )
    op.create_index(op.f('ix_kpi_targets_kpi_key'), 'kpi_targets', ['kpi_key'], unique=False)
    op.create_table('kpi_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('kpi_key', sa.String(length=80), nullable=True),
    sa.Column('group_key', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('notified_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_kpi_alerts_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_alerts'))
    )
    op.create_index(op.f('ix_kpi_alerts_group_key'), 'kpi_alerts', ['group_key'], unique=False)
    op.create_index(op.f('ix_kpi_alerts_kpi_key'), 'kpi_alerts', ['kpi_key'], unique=False)
    op.create_index(op.f('ix_kpi_alerts_owner_id'), 'kpi_alerts', ['owner_id'], unique=False)
    op.create_table('kpi_definitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('formula', sa.Text(), nullable=True),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('timing', sa.String(length=16), nullable=False),
    sa.Column('vanity', sa.Boolean(), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('aarrr', sa.JSON(), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('north_star', sa.Boolean(), nullable=False),
    sa.Column('counterpart', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_kpi_definitions_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_definitions')),
    sa.UniqueConstraint('key', name=op.f('uq_kpi_definitions_key'))
    )
    op.create_index(op.f('ix_kpi_definitions_owner_id'), 'kpi_definitions', ['owner_id'], unique=False)
    op.create_table('okr_objectives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_okr_objectives_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_okr_objectives'))
    )
    op.create_index(op.f('ix_okr_objectives_owner_id'), 'okr_objectives', ['owner_id'], unique=False)
    op.create_table('okr_key_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('objective_id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['objective_id'], ['okr_objectives.id'], name=op.f('fk_okr_key_results_objective_id_okr_objectives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['kpi_targets.id'], name=op.f('fk_okr_key_results_target_id_kpi_targets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_okr_key_results'))
    )
    op.create_index(op.f('ix_okr_key_results_objective_id'), 'okr_key_results', ['objective_id'], unique=False)
    op.create_index(op.f('ix_okr_key_results_target_id'), 'okr_key_results', ['target_id'], unique=False)

    op.create_table('kpi_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_key', sa.String(length=300), nullable=False),
    sa.Column('period_start', sa.DateTime(), nullable=False),
    sa.Column('segment', sa.String(length=300), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_points')),
    sa.UniqueConstraint('series_key', 'period_start', 'segment', name=op.f('uq_kpi_points_series_key'))
    )
    op.create_index(op.f('ix_kpi_points_series_key'), 'kpi_points', ['series_key'], unique=False)
    op.create_table('kpi_series_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_key', sa.String(length=300), nullable=False),
    sa.Column('watermark', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_series_state')),
    sa.UniqueConstraint('series_key', name=op.f('uq_kpi_series_state_series_key'))
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
