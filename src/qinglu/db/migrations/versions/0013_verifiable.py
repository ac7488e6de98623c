"""documents and ledger made verifiable from outside: the SHA-256 of every issued PDF, and
the registry's signed checkpoints of the ledger head

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('issued_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('signer_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'],
                            name=op.f('fk_issued_files_certificate_id_certificates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_files')),
    sa.UniqueConstraint('sha256', name=op.f('uq_issued_files_sha256'))
    )
    op.create_index(op.f('ix_issued_files_certificate_id'), 'issued_files',
                    ['certificate_id'], unique=False)
    op.create_table('ledger_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('made_at', sa.String(length=40), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('signature', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_checkpoints'))
    )
    op.create_index(op.f('ix_ledger_checkpoints_sequence'), 'ledger_checkpoints',
                    ['sequence'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ledger_checkpoints_sequence'), table_name='ledger_checkpoints')
    op.drop_table('ledger_checkpoints')
    op.drop_index(op.f('ix_issued_files_certificate_id'), table_name='issued_files')
    op.drop_table('issued_files')
