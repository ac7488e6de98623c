"""products as data: names (zh/en), tradability, validity, scope of trade and the methods
that may issue each product; each issuance's scope region; the Guizhou forest carbon
tickets (prefecture and provincial) and the climate-resource rights as rows

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRODUCTS = [
    # code, zh, en, unit, decimals, scope, methods (JSON)
    ("GZCT", "贵州森林碳票（市州级）", "Guizhou forest carbon ticket (prefecture)", "tCO2e", 2,
     "prefecture", '[]'),
    ("GZCTP", "贵州森林碳票（省级）", "Guizhou forest carbon ticket (provincial)", "tCO2e", 2,
     "province", '[]'),
    ("WINDR", "风能资源开发权", "wind development right (climate resource)", "MW", 3,
     "province", '[]'),
    ("SOLARR", "太阳能资源开发权", "solar development right (climate resource)", "MW", 3,
     "province", '[]'),
]


def upgrade() -> None:
    with op.batch_alter_table('products') as batch:
        batch.add_column(sa.Column('name_en', sa.String(length=200), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('tradable', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column('validity_months', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('scope', sa.String(length=16), nullable=False,
                                   server_default='nation'))
        batch.add_column(sa.Column('methods', sa.Text(), nullable=False, server_default='[]'))
    op.add_column('issuances', sa.Column('scope_region', sa.String(length=6), nullable=True))
    op.execute("UPDATE products SET name = '林业碳汇', name_en = 'forestry carbon sink' "
               "WHERE code = 'FCS'")
    op.execute("UPDATE products SET name = '绿色电力证书', "
               "name_en = 'green electricity certificate' WHERE code = 'GEC'")
    table = sa.table('products', sa.column('code', sa.String), sa.column('name', sa.String),
                     sa.column('name_en', sa.String), sa.column('unit', sa.String),
                     sa.column('decimals', sa.Integer), sa.column('next_serial', sa.BigInteger),
                     sa.column('scope', sa.String), sa.column('methods', sa.Text))
    op.bulk_insert(table, [
        {"code": code, "name": zh, "name_en": en, "unit": unit, "decimals": decimals,
         "next_serial": 1, "scope": scope, "methods": methods}
        for code, zh, en, unit, decimals, scope, methods in PRODUCTS])


def downgrade() -> None:
    op.execute("DELETE FROM products WHERE code IN ('GZCT', 'GZCTP', 'WINDR', 'SOLARR')")
    with op.batch_alter_table('issuances') as batch:
        batch.drop_column('scope_region')
    with op.batch_alter_table('products') as batch:
        for column in ('methods', 'scope', 'validity_months', 'tradable', 'name_en'):
            batch.drop_column(column)
