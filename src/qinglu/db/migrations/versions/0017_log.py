"""log: the ledger as an RFC 6962 Merkle tree (complete-subtree hashes, extended lazily),
checkpoints as signed notes (tree size + root beside the chain head), the heads an audit
verified (so the next audit checks only what came after)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'log_nodes',
        sa.Column('level', sa.SmallInteger(), nullable=False),
        sa.Column('idx', sa.BigInteger(), nullable=False),
        sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_log_nodes')))
    op.create_table(
        'log_tree',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_log_tree')))
    # The one row extenders lock; the tree grows from the entries at the next checkpoint.
    op.bulk_insert(sa.table('log_tree', sa.column('id', sa.Integer),
                            sa.column('size', sa.BigInteger)), [{"id": 1, "size": 0}])
    op.create_table(
        'audit_heads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sequence', sa.BigInteger(), nullable=False),
        sa.Column('chain_hash', sa.String(length=64), nullable=False),
        sa.Column('root_hash', sa.String(length=64), nullable=False),
        sa.Column('verified_at', sa.String(length=40), nullable=False),
        sa.Column('full', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_heads')))
    with op.batch_alter_table('ledger_checkpoints') as batch:
        batch.add_column(sa.Column('root_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('note', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ledger_checkpoints') as batch:
        batch.drop_column('note')
        batch.drop_column('root_hash')
    op.drop_table('audit_heads')
    op.drop_table('log_tree')
    op.drop_table('log_nodes')
