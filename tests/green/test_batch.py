"""The monthly batch gives the same certificates, carries, serial ranges, moves and Merkle
root on both paths: row by row in Python (SQLite) and set-based in SQL (PostgreSQL: rows
staged with COPY, running sums for carries and serial ranges, one INSERT per table)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

import qinglu.db.models  # noqa: F401  (every table, as the app loads them)
from qinglu.green import actions as green
from qinglu.registry import actions as registry
from tests import factories

A = "test"
WIND, HYDRO, SOLAR = "W520000000000001X", "H520000000000002X", "S520000000000003X"
# The first import: the wind farm's months out of order in the file, the hydro plant's
# month below one certificate, the solar farm carrying into its second month.
FIRST = (f"{SOLAR},2024-03,1500\n{WIND},2024-04,2001\n{HYDRO},2024-03,999\n"
         f"{WIND},2024-03,50999\n{SOLAR},2024-04,600\n")
SECOND = f"{HYDRO},2024-04,1\n{WIND},2024-05,0\n{SOLAR},2024-05,1900\n"
# What both paths give (the Merkle root covers every line: code, month, kWh, carries,
# certificates and the serial range).
FIRST_MONTHS = [
    {"filing_code": HYDRO, "month": "2024-03", "certificates": 0, "carried_kwh": 999,
     "tradable": False},
    {"filing_code": SOLAR, "month": "2024-03", "certificates": 1, "carried_kwh": 500,
     "tradable": True},
    {"filing_code": WIND, "month": "2024-03", "certificates": 50, "carried_kwh": 999,
     "tradable": True},
    {"filing_code": SOLAR, "month": "2024-04", "certificates": 1, "carried_kwh": 100,
     "tradable": True},
    {"filing_code": WIND, "month": "2024-04", "certificates": 3, "carried_kwh": 0,
     "tradable": True}]
FIRST_ROOT = "f89579b781c2327c60068fae54f8d186a684df5f230bbc93f303afa03360129c"
SECOND_ROOT = "9bd4db58773bbef61a02bc0235f1a5cc7e4dcc254fc4ba27ec495eb03da7ec77"


def _import(session: Session, body: str) -> dict[str, Any]:
    return green.import_generation(session, A, filename="gen.csv",
                                   content=("filing_code,month,kwh\n" + body).encode())


def test_the_batch_gives_the_same_result_on_both_backends(session: Session) -> None:
    acct = factories.account(session)
    for code, technology, commissioned in ((WIND, "wind", date(2018, 6, 1)),
                                           (HYDRO, "hydro", date(2022, 3, 1)),
                                           (SOLAR, "solar", date(2023, 5, 1))):
        green.register_project(session, A, name=f"电站 {code}", filing_code_text=code,
                               technology=technology, commissioned=commissioned,
                               region="520000", account_id=acct)
    first = _import(session, FIRST)
    assert first["months"] == FIRST_MONTHS
    assert (first["rows"], first["projects"], first["certificates"]) == (5, 3, 55)
    second = _import(session, SECOND)
    assert [(m["filing_code"], m["certificates"], m["carried_kwh"])
            for m in second["months"]] == [(HYDRO, 1, 0), (SOLAR, 2, 0), (WIND, 0, 0)]
    assert (first["merkle_root"], second["merkle_root"]) == (FIRST_ROOT, SECOND_ROOT)
    # Serial ranges cut in (month, filing code) order from one counter, nothing shared.
    ranges = session.execute(text(
        "SELECT serial_start, serial_end, quantity, tradable, valid_to FROM issuances "
        "ORDER BY serial_start")).all()
    assert [(r[0], r[1]) for r in ranges] == [(1, 1), (2, 51), (52, 52), (53, 55), (56, 56),
                                              (57, 58)]
    assert [r[3] for r in ranges] == [True, True, True, True, False, True]
    assert str(ranges[0][4]) == "2026-02-28"
    assert session.execute(text(
        "SELECT count(*), min(state), max(state) FROM unit_blocks")).one() == (6, "held", "held")
    assert [(g["month"], g["kwh"], g["carried_in"], g["certificates"], g["carried_out"],
             g["issuance_id"] is not None) for g in green.project_generation(session, SOLAR)] == [
        ("2024-03", 1500, 0, 1, 500, True), ("2024-04", 600, 500, 1, 100, True),
        ("2024-05", 1900, 100, 2, 0, True)]
    assert [g["issuance_id"] for g in green.project_generation(session, HYDRO)][0] is None
    assert {p["filing_code"]: (p["carried_kwh"], p["last_month"])
            for p in green.list_projects(session)} == {
        WIND: (0, "2024-05"), HYDRO: (0, "2024-04"), SOLAR: (0, "2024-05")}
    assert registry.held_units(session, acct, "GEC") == 58
    assert registry.audit_ledger(session)["valid"]  # the entries' moves replay to the blocks
