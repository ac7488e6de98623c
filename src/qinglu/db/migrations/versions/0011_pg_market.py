"""PostgreSQL: market orders and settlements as server-side functions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

This revision first created the market's functions (qinglu_place_order,
qinglu_settle_order, qinglu_finish_trade) and the helpers shared with the transfer
(qinglu_lock_accounts, qinglu_move_units, qinglu_append_entry). They now live as .sql
files beside their features (market/sql, registry/sql), installed by `qinglu db upgrade`
after the migrations (db/server_functions.py); migrations hold the schema only, and this
revision changes none.
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
