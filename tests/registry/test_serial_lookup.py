"""A serial, or a range within one issuance, is looked up by its own statement (each part
an index equality or one issuance's blocks, so the server's generic plan stays tight);
ranges across issuances, or not all issued, go to the range statement. Either way the
look-up answers exactly as the range statement alone does: on every unit and many ranges
of a cut-up ledger, and past its ends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from qinglu.core.errors import InvalidSerial
from qinglu.core.serials import format_serial, parse_serial
from qinglu.registry import actions as registry
from tests import factories as f


def answer(db: Any, serial: str) -> Any:
    try:
        return registry.find_serial(db, serial)
    except InvalidSerial as refused:
        return ("refused", str(refused))


def test_every_range_reads_as_the_range_statement_reads_it(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    owner, project, first = f.issued_account(session, quantity=40)
    others = [f.account(session) for _ in range(3)]
    for k in range(12):  # cut the issuance into blocks of 1-3 units among four accounts
        registry.transfer(session, from_account=owner, to_account=others[k % 3],
                          product="FCS", quantity=1 + k % 3, actor=f.ACTOR)
    second = registry.issue(session, project_id=project, vintage=2023, quantity=5,
                            to_account=owner, actor=f.ACTOR)
    issued = [parse_serial(s) for s in (*first["serials"], *second["serials"])]
    low, high = min(s.start for s in issued), max(s.end for s in issued)
    ranges = [(a, b) for a in range(low - 2, high + 3)
              for b in (a, a + 1, a + 4, high - 1, high + 1) if b >= a]
    db = session.connection()

    def name(a: int, b: int) -> str:
        return format_serial("FCS", "522629", project, 2023, max(a, 1), max(b, 1))

    ours = [answer(db, name(a, b)) for a, b in ranges]
    monkeypatch.setattr(registry, "_SERIAL_SQL", registry._SERIAL_RANGE_SQL)
    theirs = [answer(db, name(a, b)) for a, b in ranges]
    assert ours == theirs
    assert sum(1 for a in ours if not isinstance(a, tuple)) > len(ranges) // 2
    unit = low + 7
    assert [b["quantity"] for b in registry.find_serial(db, name(unit, unit))] == ["0.01"]
