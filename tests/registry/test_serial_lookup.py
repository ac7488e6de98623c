"""A single serial is looked up by its own statement (each part an equality on an index,
so the server's generic plan stays tight); it answers exactly as the range statement
does for a range of one, on every unit of a cut-up ledger and past its ends."""

from __future__ import annotations

from sqlalchemy.orm import Session

from qinglu.core.serials import format_serial, parse_serial
from qinglu.registry import actions as registry
from tests import factories as f


def test_one_serial_reads_as_a_range_of_one(session: Session) -> None:
    owner, project, first = f.issued_account(session, quantity=40)
    others = [f.account(session) for _ in range(3)]
    for k in range(12):  # cut the issuance into blocks of 1-3 units among four accounts
        registry.transfer(session, from_account=owner, to_account=others[k % 3],
                          product="FCS", quantity=1 + k % 3, actor=f.ACTOR)
    second = registry.issue(session, project_id=project, vintage=2023, quantity=5,
                            to_account=owner, actor=f.ACTOR)
    starts = [parse_serial(s).start for s in (*first["serials"], *second["serials"])]
    ends = [parse_serial(s).end for s in (*first["serials"], *second["serials"])]
    db = session.connection()
    for unit in range(min(starts) - 2, max(ends) + 3):
        params = {"product": "FCS", "start": unit, "end": unit}
        one = registry._SERIAL_SQL.rows(db, params)
        ranged = registry._SERIAL_RANGE_SQL.rows(db, params)
        assert one == ranged, unit
    unit = min(starts) + 7
    found = registry.find_serial(
        db, format_serial("FCS", "522629", project, 2023, unit, unit))
    assert [b["quantity"] for b in found] == ["0.01"]
