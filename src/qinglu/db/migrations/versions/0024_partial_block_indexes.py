"""blocks by hold and by retirement: partial indexes, of the blocks that have one

Nearly every block is held, with neither a hold nor a retirement: the two indexes held
an entry for each of them all the same (10,000,000 at the scale of bench/scale.py),
written with every block. Worse, a certificate's verification joined its retired
blocks through the retirement index by a merge join that walked it to the end, past
every NULL (1.06 s for the newest certificate of the large ledger). Indexed only where
the column is set, each index holds the few blocks in escrow or retired.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("hold_id", "retirement_id")


def upgrade() -> None:
    for column in COLUMNS:
        name = f"ix_unit_blocks_{column}"
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name="unit_blocks")
        op.create_index(name, "unit_blocks", [column], postgresql_where=where,
                        sqlite_where=where)


def downgrade() -> None:
    for column in COLUMNS:
        name = f"ix_unit_blocks_{column}"
        op.drop_index(name, table_name="unit_blocks")
        op.create_index(name, "unit_blocks", [column])
