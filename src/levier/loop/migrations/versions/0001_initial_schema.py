"""initial schema: users, cycles, retros, hypotheses, experiments, actions, learnings, playbook

Revision ID: 0001
Revises:
Create Date: 2026-11-22 17:12:41.175281
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cycles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('segment', sa.String(length=200), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('framing', sa.JSON(), nullable=False),
    sa.Column('raci', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('replay_of_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['replay_of_id'], ['cycles.id'], name=op.f('fk_cycles_replay_of_id_cycles'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycles'))
    )
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycles_replay_of_id'), ['replay_of_id'], unique=False)

    op.create_table('playbook_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('segment', sa.String(length=200), nullable=True),
    sa.Column('channel', sa.String(length=80), nullable=True),
    sa.Column('kpi_key', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('standardised_at', sa.DateTime(), nullable=True),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playbook_entries')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_playbook_entries_key'))
    )
    with op.batch_alter_table('playbook_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playbook_entries_key'), ['key'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_log_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_user_id'), ['user_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('cycle_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cycle_results_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_cycle_results_cycle_id_cycles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycle_results'))
    )
    with op.batch_alter_table('cycle_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_results_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cycle_results_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('cycle_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('week', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_cycle_steps_cycle_id_cycles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycle_steps')),
    sa.UniqueConstraint('cycle_id', 'number', name=op.f('uq_cycle_steps_cycle_id'))
    )
    with op.batch_alter_table('cycle_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycle_steps_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=200), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('colour', sa.String(length=8), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_decisions_cycle_id_cycles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('retros',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('objective', sa.String(length=300), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('participants', sa.JSON(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=True),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('error_category', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('held_at', sa.DateTime(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_retros_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_retros_cycle_id_cycles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['previous_id'], ['retros.id'], name=op.f('fk_retros_previous_id_retros'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retros'))
    )
    with op.batch_alter_table('retros', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retros_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retros_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retros_previous_id'), ['previous_id'], unique=False)

    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_sessions_token_hash'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('observations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('figure_key', sa.String(length=200), nullable=True),
    sa.Column('figure_value', sa.Float(), nullable=True),
    sa.Column('figure_ref', sa.String(length=300), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('group_label', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_observations_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['retro_id'], ['retros.id'], name=op.f('fk_observations_retro_id_retros'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_observations'))
    )
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_observations_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_observations_retro_id'), ['retro_id'], unique=False)

    op.create_table('swot_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=False),
    sa.Column('quadrant', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['retro_id'], ['retros.id'], name=op.f('fk_swot_items_retro_id_retros'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_swot_items'))
    )
    with op.batch_alter_table('swot_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_swot_items_retro_id'), ['retro_id'], unique=False)

    op.create_table('why_chains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('whys', sa.JSON(), nullable=False),
    sa.Column('root_cause', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['retro_id'], ['retros.id'], name=op.f('fk_why_chains_retro_id_retros'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_why_chains'))
    )
    with op.batch_alter_table('why_chains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_why_chains_retro_id'), ['retro_id'], unique=False)

    op.create_table('hypotheses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=True),
    sa.Column('observation_id', sa.Integer(), nullable=True),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('kpi_key', sa.String(length=80), nullable=True),
    sa.Column('expected_change', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['observation_id'], ['observations.id'], name=op.f('fk_hypotheses_observation_id_observations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['retro_id'], ['retros.id'], name=op.f('fk_hypotheses_retro_id_retros'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hypotheses'))
    )
    with op.batch_alter_table('hypotheses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hypotheses_observation_id'), ['observation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hypotheses_retro_id'), ['retro_id'], unique=False)

    op.create_table('votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('voter', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['observation_id'], ['observations.id'], name=op.f('fk_votes_observation_id_observations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_votes')),
    sa.UniqueConstraint('observation_id', 'voter', name=op.f('uq_votes_observation_id'))
    )
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_votes_observation_id'), ['observation_id'], unique=False)

    op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=True),
    sa.Column('hypothesis_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('kpi_key', sa.String(length=80), nullable=False),
    sa.Column('segment', sa.JSON(), nullable=True),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('verification', sa.String(length=16), nullable=True),
    sa.Column('measured_value', sa.Float(), nullable=True),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('verification_detail', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['hypothesis_id'], ['hypotheses.id'], name=op.f('fk_actions_hypothesis_id_hypotheses'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_actions_owner_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['retro_id'], ['retros.id'], name=op.f('fk_actions_retro_id_retros'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions'))
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actions_hypothesis_id'), ['hypothesis_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_actions_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_actions_retro_id'), ['retro_id'], unique=False)

    op.create_table('experiments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('hypothesis_id', sa.Integer(), nullable=True),
    sa.Column('variable', sa.String(length=300), nullable=False),
    sa.Column('variants', sa.JSON(), nullable=False),
    sa.Column('primary_kpi', sa.String(length=80), nullable=True),
    sa.Column('guardrails', sa.JSON(), nullable=False),
    sa.Column('n_per_arm', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['hypothesis_id'], ['hypotheses.id'], name=op.f('fk_experiments_hypothesis_id_hypotheses'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiments')),
    sa.UniqueConstraint('key', name=op.f('uq_experiments_key'))
    )
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experiments_hypothesis_id'), ['hypothesis_id'], unique=False)

    op.create_table('action_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verification', sa.String(length=16), nullable=True),
    sa.Column('measured_value', sa.Float(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_reviews_action_id_actions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['retro_id'], ['retros.id'], name=op.f('fk_action_reviews_retro_id_retros'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_reviews')),
    sa.UniqueConstraint('retro_id', 'action_id', name=op.f('uq_action_reviews_retro_id'))
    )
    with op.batch_alter_table('action_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_reviews_action_id'), ['action_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_reviews_retro_id'), ['retro_id'], unique=False)

    op.create_table('learnings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=True),
    sa.Column('experiment_id', sa.Integer(), nullable=True),
    sa.Column('observation_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('audience', sa.String(length=200), nullable=True),
    sa.Column('channel', sa.String(length=80), nullable=True),
    sa.Column('timing', sa.String(length=200), nullable=True),
    sa.Column('offer', sa.String(length=200), nullable=True),
    sa.Column('quarter', sa.String(length=8), nullable=True),
    sa.Column('segment', sa.String(length=200), nullable=True),
    sa.Column('kpi_key', sa.String(length=80), nullable=True),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('lesson', sa.Text(), nullable=False),
    sa.Column('error_category', sa.String(length=16), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('observed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], name=op.f('fk_learnings_experiment_id_experiments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['observation_id'], ['observations.id'], name=op.f('fk_learnings_observation_id_observations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['retro_id'], ['retros.id'], name=op.f('fk_learnings_retro_id_retros'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learnings'))
    )
    with op.batch_alter_table('learnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learnings_experiment_id'), ['experiment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learnings_observation_id'), ['observation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learnings_retro_id'), ['retro_id'], unique=False)

    op.create_table('playbook_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('learning_id', sa.Integer(), nullable=True),
    sa.Column('experiment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['playbook_entries.id'], name=op.f('fk_playbook_links_entry_id_playbook_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], name=op.f('fk_playbook_links_experiment_id_experiments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['learning_id'], ['learnings.id'], name=op.f('fk_playbook_links_learning_id_learnings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playbook_links'))
    )
    with op.batch_alter_table('playbook_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playbook_links_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_playbook_links_experiment_id'), ['experiment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_playbook_links_learning_id'), ['learning_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('playbook_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playbook_links_learning_id'))
        batch_op.drop_index(batch_op.f('ix_playbook_links_experiment_id'))
        batch_op.drop_index(batch_op.f('ix_playbook_links_entry_id'))

    op.drop_table('playbook_links')
    with op.batch_alter_table('learnings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learnings_retro_id'))
        batch_op.drop_index(batch_op.f('ix_learnings_observation_id'))
        batch_op.drop_index(batch_op.f('ix_learnings_experiment_id'))

    op.drop_table('learnings')
    with op.batch_alter_table('action_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_reviews_retro_id'))
        batch_op.drop_index(batch_op.f('ix_action_reviews_action_id'))

    op.drop_table('action_reviews')
    with op.batch_alter_table('experiments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experiments_hypothesis_id'))

    op.drop_table('experiments')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_actions_retro_id'))
        batch_op.drop_index(batch_op.f('ix_actions_owner_id'))
        batch_op.drop_index(batch_op.f('ix_actions_hypothesis_id'))

    op.drop_table('actions')
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_votes_observation_id'))

    op.drop_table('votes')
    with op.batch_alter_table('hypotheses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hypotheses_retro_id'))
        batch_op.drop_index(batch_op.f('ix_hypotheses_observation_id'))

    op.drop_table('hypotheses')
    with op.batch_alter_table('why_chains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_why_chains_retro_id'))

    op.drop_table('why_chains')
    with op.batch_alter_table('swot_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_swot_items_retro_id'))

    op.drop_table('swot_items')
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_observations_retro_id'))
        batch_op.drop_index(batch_op.f('ix_observations_author_id'))

    op.drop_table('observations')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_user_id'))

    op.drop_table('sessions')
    with op.batch_alter_table('retros', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retros_previous_id'))
        batch_op.drop_index(batch_op.f('ix_retros_cycle_id'))
        batch_op.drop_index(batch_op.f('ix_retros_created_by_id'))

    op.drop_table('retros')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_cycle_id'))

    op.drop_table('decisions')
    with op.batch_alter_table('cycle_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_steps_cycle_id'))

    op.drop_table('cycle_steps')
    with op.batch_alter_table('cycle_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycle_results_cycle_id'))
        batch_op.drop_index(batch_op.f('ix_cycle_results_created_by_id'))

    op.drop_table('cycle_results')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_user_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_at'))

    op.drop_table('access_log')
    op.drop_table('users')
    with op.batch_alter_table('playbook_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playbook_entries_key'))

    op.drop_table('playbook_entries')
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycles_replay_of_id'))

    op.drop_table('cycles')
