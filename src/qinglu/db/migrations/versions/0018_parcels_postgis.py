"""parcels in PostGIS (PostgreSQL only): a geometry column kept by the database, GiST-indexed;
issuances indexed by product and first serial (both backends)

On PostgreSQL the parcel's WKT (what both backends store and what the SQLite path reads
into shapely) also becomes a `geom` column computed by the database itself (a stored
generated column), so no write path can leave the two apart, and a GiST index on it
makes the overlap rule one indexed query. SQLite keeps the shapely path: nothing here.

On both backends, issuances get an index on (product, serial_start): a serial look-up
finds the issuance holding a serial by it (registry.actions._SERIAL_RANGE_SQL), where it
scanned every issuance of the product (92 ms at 90,000 issuances in bench/scale.py).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 00:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_issuances_product_start", "issuances", ["product", "serial_start"])
    if op.get_bind().dialect.name != "postgresql":
        return
    # Needs a superuser (PostGIS is not a trusted extension); a no-op where it exists.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # Plain DDL rather than GeoAlchemy2's Geometry type: importing geoalchemy2 hooks
    # `before_execute` on every engine of the process, a cost on every ledger statement
    # for a column that nothing in Python reads or writes.
    op.execute("ALTER TABLE parcels ADD COLUMN geom geometry(Geometry, 4490) "
               "GENERATED ALWAYS AS (ST_GeomFromText(geometry_wkt, 4490)) STORED")
    op.create_index("ix_parcels_geom", "parcels", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_parcels_geom", table_name="parcels")
        op.drop_column("parcels", "geom")
    op.drop_index("ix_issuances_product_start", table_name="issuances")
