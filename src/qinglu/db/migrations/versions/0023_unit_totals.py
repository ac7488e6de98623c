"""unit totals: the dashboard's totals kept as units move, not summed from every block

The public dashboard summed every unit block on each visit: 5.95 s at 10,000,000 blocks
(bench/scale.py), on a page anyone may open. Now triggers append a row to
`unit_totals` for each change the totals see (registry.models.UnitTotal): an issuance
adds to "issued"; a block entering or leaving escrow, retirement or cancellation adds or
takes its units there. A block that stays held (a transfer, a split) fires nothing:
the trigger's WHEN is checked before any function is called, so the ledger's busiest
write pays no more than that test. The dashboard sums a few rows a group.

Existing registries are counted once here, from their issuances and blocks. (A later
SQLite migration that rebuilds `issuances` or `unit_blocks` in Alembic's batch mode drops
their triggers with the old table, and must create them again.)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Units of a block (its state's total grows by these) and of an issuance.
_SIZE = "{row}.serial_end - {row}.serial_start + 1"
_REGION = ("SELECT i.product, p.region, {row}.state, {sign}({size}) FROM issuances i "
           "JOIN projects p ON p.id = i.project_id WHERE i.id = {row}.issuance_id")

_POSTGRES = [
    # One row a product and county per statement: a month's batch of 100,000 issuances
    # (green.actions) adds a handful, not 100,000.
    """
    CREATE FUNCTION qinglu_count_issued() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO unit_totals (product, region, state, units)
      SELECT n.product, p.region, 'issued', sum(n.quantity)
        FROM issued_rows n JOIN projects p ON p.id = n.project_id
       GROUP BY n.product, p.region;
      RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER tr_issuances_count AFTER INSERT ON issuances "
    "REFERENCING NEW TABLE AS issued_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION qinglu_count_issued()",
    f"""
    CREATE FUNCTION qinglu_count_block() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' AND OLD.state <> 'held' THEN
        INSERT INTO unit_totals (product, region, state, units)
        {_REGION.format(row="OLD", sign="-", size=_SIZE.format(row="OLD"))};
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.state <> 'held' THEN
        INSERT INTO unit_totals (product, region, state, units)
        {_REGION.format(row="NEW", sign="", size=_SIZE.format(row="NEW"))};
      END IF;
      RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER tr_unit_blocks_count_insert AFTER INSERT ON unit_blocks FOR EACH ROW "
    "WHEN (NEW.state <> 'held') EXECUTE FUNCTION qinglu_count_block()",
    "CREATE TRIGGER tr_unit_blocks_count_update AFTER UPDATE ON unit_blocks FOR EACH ROW "
    "WHEN ((OLD.state <> 'held' OR NEW.state <> 'held') AND (OLD.state <> NEW.state "
    "OR OLD.serial_end - OLD.serial_start <> NEW.serial_end - NEW.serial_start "
    "OR OLD.issuance_id <> NEW.issuance_id)) EXECUTE FUNCTION qinglu_count_block()",
    "CREATE TRIGGER tr_unit_blocks_count_delete AFTER DELETE ON unit_blocks FOR EACH ROW "
    "WHEN (OLD.state <> 'held') EXECUTE FUNCTION qinglu_count_block()",
]

_SQLITE_ADD = ("INSERT INTO unit_totals (product, region, state, units) "
               + _REGION + " AND {row}.state <> 'held';")
_SQLITE = [
    "CREATE TRIGGER tr_issuances_count AFTER INSERT ON issuances BEGIN "
    "INSERT INTO unit_totals (product, region, state, units) "
    "SELECT NEW.product, p.region, 'issued', NEW.quantity FROM projects p "
    "WHERE p.id = NEW.project_id; END",
    "CREATE TRIGGER tr_unit_blocks_count_insert AFTER INSERT ON unit_blocks "
    "WHEN NEW.state <> 'held' BEGIN "
    + _SQLITE_ADD.format(row="NEW", sign="", size=_SIZE.format(row="NEW")) + " END",
    "CREATE TRIGGER tr_unit_blocks_count_update AFTER UPDATE ON unit_blocks "
    "WHEN (OLD.state <> 'held' OR NEW.state <> 'held') AND (OLD.state <> NEW.state "
    "OR OLD.serial_end - OLD.serial_start <> NEW.serial_end - NEW.serial_start "
    "OR OLD.issuance_id <> NEW.issuance_id) BEGIN "
    + _SQLITE_ADD.format(row="OLD", sign="-", size=_SIZE.format(row="OLD")) + " "
    + _SQLITE_ADD.format(row="NEW", sign="", size=_SIZE.format(row="NEW")) + " END",
    "CREATE TRIGGER tr_unit_blocks_count_delete AFTER DELETE ON unit_blocks "
    "WHEN OLD.state <> 'held' BEGIN "
    + _SQLITE_ADD.format(row="OLD", sign="-", size=_SIZE.format(row="OLD")) + " END",
]

_COUNT_EXISTING = [
    "INSERT INTO unit_totals (product, region, state, units) "
    "SELECT i.product, p.region, 'issued', sum(i.quantity) FROM issuances i "
    "JOIN projects p ON p.id = i.project_id GROUP BY i.product, p.region",
    "INSERT INTO unit_totals (product, region, state, units) "
    "SELECT i.product, p.region, b.state, sum(b.serial_end - b.serial_start + 1) "
    "FROM unit_blocks b JOIN issuances i ON i.id = b.issuance_id "
    "JOIN projects p ON p.id = i.project_id WHERE b.state <> 'held' "
    "GROUP BY i.product, p.region, b.state",
]


def upgrade() -> None:
    op.create_table(
        'unit_totals',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('product', sa.String(length=8), nullable=False),
        sa.Column('region', sa.String(length=6), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('units', sa.BigInteger(), nullable=False),
        sa.CheckConstraint("state IN ('issued', 'escrow', 'retired', 'cancelled')",
                           name=op.f('ck_unit_totals_state')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_totals')),
    )
    for statement in _COUNT_EXISTING:
        op.execute(statement)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES if postgres else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    for trigger, table in (("tr_issuances_count", "issuances"),
                           ("tr_unit_blocks_count_insert", "unit_blocks"),
                           ("tr_unit_blocks_count_update", "unit_blocks"),
                           ("tr_unit_blocks_count_delete", "unit_blocks")):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        else:
            op.execute(f"DROP TRIGGER {trigger}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION qinglu_count_block()")
        op.execute("DROP FUNCTION qinglu_count_issued()")
    op.drop_table('unit_totals')
