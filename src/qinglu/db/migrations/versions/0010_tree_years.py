"""tree years: trees' owner household and measurement year; tree_years

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 01:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('trees') as batch:
        batch.add_column(sa.Column('owner_holder_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('measured_year', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_trees_owner_holder_id_holders'), 'holders',
                                 ['owner_holder_id'], ['id'])
        batch.create_index(op.f('ix_trees_owner_holder_id'), ['owner_holder_id'],
                           unique=False)
    op.create_table(
        'tree_years',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tree_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('dbh_start', sa.Float(), nullable=False),
        sa.Column('height_start', sa.Float(), nullable=False),
        sa.Column('dbh_end', sa.Float(), nullable=False),
        sa.Column('height_end', sa.Float(), nullable=False),
        sa.Column('sink_units', sa.BigInteger(), nullable=False),
        sa.Column('owner_units', sa.BigInteger(), nullable=False),
        sa.Column('buffer_units', sa.BigInteger(), nullable=False),
        sa.Column('owner_issuance_id', sa.Integer(), nullable=True),
        sa.Column('buffer_issuance_id', sa.Integer(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tree_id'], ['trees.id'],
                                name=op.f('fk_tree_years_tree_id_trees')),
        sa.ForeignKeyConstraint(['owner_issuance_id'], ['issuances.id'],
                                name=op.f('fk_tree_years_owner_issuance_id_issuances')),
        sa.ForeignKeyConstraint(['buffer_issuance_id'], ['issuances.id'],
                                name=op.f('fk_tree_years_buffer_issuance_id_issuances')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tree_years')),
        sa.UniqueConstraint('tree_id', 'year', name='uq_tree_years_tree_year'),
    )
    op.create_index(op.f('ix_tree_years_tree_id'), 'tree_years', ['tree_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_tree_years_tree_id'), table_name='tree_years')
    op.drop_table('tree_years')
    with op.batch_alter_table('trees') as batch:
        batch.drop_index(op.f('ix_trees_owner_holder_id'))
        batch.drop_constraint(op.f('fk_trees_owner_holder_id_holders'), type_='foreignkey')
        batch.drop_column('measured_year')
        batch.drop_column('owner_holder_id')
