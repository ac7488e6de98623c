"""green electricity: a product's rules on each issuance (tradable, valid to), power
projects with their filing code, monthly generation and certificates, green-power claims

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('issuances', sa.Column('tradable', sa.Boolean(), nullable=False,
                                         server_default=sa.true()))
    op.add_column('issuances', sa.Column('valid_to', sa.Date(), nullable=True))
    op.create_table('green_power_projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filing_code', sa.String(length=17), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('technology', sa.String(length=16), nullable=False),
    sa.Column('commissioned', sa.Date(), nullable=False),
    sa.Column('self_consumed', sa.Boolean(), nullable=False),
    sa.Column('carried_kwh', sa.BigInteger(), nullable=False),
    sa.Column('last_month', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('carried_kwh >= 0 AND carried_kwh < 1000',
                       name=op.f('ck_green_power_projects_carried')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_green_power_projects_account_id_accounts')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'],
                            name=op.f('fk_green_power_projects_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_green_power_projects')),
    sa.UniqueConstraint('filing_code', name=op.f('uq_green_power_projects_filing_code')),
    sa.UniqueConstraint('project_id', name=op.f('uq_green_power_projects_project_id'))
    )
    op.create_index(op.f('ix_green_power_projects_account_id'), 'green_power_projects',
                    ['account_id'], unique=False)
    op.create_table('green_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('power_project_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('kwh', sa.BigInteger(), nullable=False),
    sa.Column('carried_in', sa.BigInteger(), nullable=False),
    sa.Column('certificates', sa.BigInteger(), nullable=False),
    sa.Column('carried_out', sa.BigInteger(), nullable=False),
    sa.Column('issuance_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('kwh >= 0', name=op.f('ck_green_generation_kwh')),
    sa.ForeignKeyConstraint(['issuance_id'], ['issuances.id'],
                            name=op.f('fk_green_generation_issuance_id_issuances')),
    sa.ForeignKeyConstraint(['power_project_id'], ['green_power_projects.id'],
                            name=op.f('fk_green_generation_power_project_id_green_power_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_green_generation')),
    sa.UniqueConstraint('power_project_id', 'month', name=op.f('uq_green_generation_power_project_id'))
    )
    op.create_table('green_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('consumer', sa.String(length=200), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('consumption_kwh', sa.BigInteger(), nullable=False),
    sa.Column('certificates', sa.BigInteger(), nullable=False),
    sa.Column('green_share', sa.String(length=16), nullable=False),
    sa.Column('co2_t', sa.String(length=32), nullable=False),
    sa.Column('factor_kg_per_kwh', sa.String(length=16), nullable=False),
    sa.Column('factor_name', sa.String(length=300), nullable=False),
    sa.Column('factor_source', sa.Text(), nullable=False),
    sa.Column('reported_co2_t', sa.String(length=32), nullable=True),
    sa.Column('reported_source', sa.Text(), nullable=True),
    sa.Column('retirement_id', sa.Integer(), nullable=False),
    sa.Column('certificate_number', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('consumption_kwh > 0', name=op.f('ck_green_claims_consumption')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_green_claims_account_id_accounts')),
    sa.ForeignKeyConstraint(['retirement_id'], ['retirements.id'],
                            name=op.f('fk_green_claims_retirement_id_retirements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_green_claims')),
    sa.UniqueConstraint('consumer', 'period_start', 'period_end',
                        name=op.f('uq_green_claims_consumer')),
    sa.UniqueConstraint('retirement_id', name=op.f('uq_green_claims_retirement_id'))
    )
    op.create_index(op.f('ix_green_claims_account_id'), 'green_claims', ['account_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_green_claims_account_id'), table_name='green_claims')
    op.drop_table('green_claims')
    op.drop_table('green_generation')
    op.drop_index(op.f('ix_green_power_projects_account_id'), table_name='green_power_projects')
    op.drop_table('green_power_projects')
    with op.batch_alter_table('issuances') as batch:
        batch.drop_column('valid_to')
        batch.drop_column('tradable')
