"""PostgreSQL: a transfer as one server-side function call

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

This revision first created `qinglu_transfer`. The server-side functions now live as
.sql files beside their features (registry/sql, market/sql) and `qinglu db upgrade`
installs them after the migrations (db/server_functions.py), so this revision holds no
function of its own. Going below it drops every installed function and their record, so
that the next upgrade installs them afresh.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROP_SERVER_FUNCTIONS = r"""
DO $drop$
DECLARE
    fn record;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure AS signature
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE 'qinglu\_%'
    LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || fn.signature || ' CASCADE';
    END LOOP;
END
$drop$;
DROP TABLE IF EXISTS qinglu_installed_sql;
"""


def upgrade() -> None:
    pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_SERVER_FUNCTIONS)
