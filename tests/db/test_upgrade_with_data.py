"""A database that already holds rows upgrades to the head.

SQLite alters a table by copying and dropping it; with foreign keys enforced, dropping
`products` while projects point at it was refused, so an existing installation could
not upgrade past the migration that gave products their rules.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.registry import actions as registry


def test_a_database_with_projects_upgrades_past_the_product_rules(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0015")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO projects (name, product, region, methodology, status, created_at)"
            " VALUES ('剑河县林业碳汇项目', 'FCS', '522629', 'GZ-FCS-001', 'registered',"
            " '2026-01-01 00:00:00')"))

    upgrade(engine)

    with make_session_factory(engine)() as session:
        projects = registry.list_projects(session)
        assert [p["product"] for p in projects] == ["FCS"]
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    engine.dispose()
