"""Green certificates on the ledger: monthly issuance from generation files with the
remainder carried, tradability, validity and the expiry job, all-or-nothing imports, and
green-power claims (share, CO2 at a named factor, reported figure beside, never twice)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import qinglu.db.models  # noqa: F401  (every table, as the app loads them)
from qinglu.core.errors import Conflict, InsufficientUnits, NotTradable
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.green import actions as green
from qinglu.green.models import GenerationMonth
from qinglu.registry import actions as registry
from tests import factories

A = "test"
WIND = "W520000000000001X"
HYDRO = "H520000000000002X"


def _projects(session: Session) -> int:
    acct = factories.account(session)
    green.register_project(session, A, name="威宁风电场", filing_code_text=WIND,
                           technology="wind", commissioned=date(2018, 6, 1), region="520000",
                           account_id=acct)
    green.register_project(session, A, name="乌江老水电站", filing_code_text=HYDRO,
                           technology="hydro", commissioned=date(2022, 3, 1), region="520000",
                           account_id=acct)
    return acct


def _import(session: Session, body: str, name: str = "gen.csv") -> dict[str, Any]:
    return green.import_generation(session, A, filename=name,
                                   content=("filing_code,month,kwh\n" + body).encode())


def test_50999_kwh_gives_50_certificates_and_999_carried_into_the_next_month(
        session: Session) -> None:
    acct = _projects(session)
    first = _import(session, f"{WIND},2024-03,50999\n")
    assert first["certificates"] == 50 and first["months"][0]["carried_kwh"] == 999
    second = _import(session, f"{WIND},2024-04,1\n")
    assert second["certificates"] == 1 and second["months"][0]["carried_kwh"] == 0
    assert registry.held_units(session, acct, "GEC") == 51


def test_validity_and_the_expiry_job_with_a_fixed_clock(session: Session) -> None:
    acct = _projects(session)
    _import(session, f"{WIND},2023-06,5000\n{WIND},2023-07,0\n")  # produced before 2024
    months = session.execute(text(
        "SELECT g.month, i.valid_to FROM green_generation g "
        "LEFT JOIN issuances i ON i.id = g.issuance_id ORDER BY g.month")).all()
    assert str(months[0][1]) == "2025-12-31"
    other = factories.account(session)
    wind_2024 = green.register_project(
        session, A, name="赫章光伏", filing_code_text="S520000000000003X", technology="solar",
        commissioned=date(2023, 5, 1), region="520000", account_id=other)
    _import(session, "S520000000000003X,2024-03,7000\n")
    valid_to = session.scalar(text(
        "SELECT i.valid_to FROM issuances i JOIN projects p ON p.id = i.project_id "
        "WHERE p.id = :p"), {"p": wind_2024["project_id"]})
    assert str(valid_to) == "2026-02-28"
    # On the last valid day nothing expires; the day after, the 2024-03 ones go.
    assert green.expire(session, A, today=date(2026, 2, 28))["quantity"] == 5  # the 2023 ones
    assert registry.held_units(session, acct, "GEC") == 0
    assert registry.held_units(session, other, "GEC") == 7
    gone = green.expire(session, A, today=date(2026, 3, 1))
    assert gone["quantity"] == 7 and registry.held_units(session, other, "GEC") == 0
    assert registry.audit_ledger(session)["valid"]


def test_expired_certificates_cannot_move_before_the_job_runs(session: Session) -> None:
    acct = _projects(session)
    _import(session, f"{WIND},2023-06,3000\n")  # valid to 2025-12-31, before today
    with pytest.raises(NotTradable, match="expired"):
        registry.transfer(session, from_account=acct, to_account=factories.account(session),
                          product="GEC", quantity=1, actor=A)


def test_hydro_commissioned_2022_is_issued_but_not_tradable(session: Session) -> None:
    acct = _projects(session)
    result = _import(session, f"{HYDRO},2026-01,4000\n")
    assert result["months"][0]["tradable"] is False
    assert registry.held_units(session, acct, "GEC") == 4
    buyer = factories.account(session)
    with pytest.raises(NotTradable, match="not tradable"):
        registry.transfer(session, from_account=acct, to_account=buyer, product="GEC",
                          quantity=1, actor=A)
    with pytest.raises(NotTradable):
        registry.hold(session, from_account=acct, product="GEC", quantity=1,
                      purpose="挂牌 listing", actor=A)
    assert registry.held_units(session, buyer, "GEC") == 0
    # Tradable wind certificates in the same account still move; the hydro ones stay.
    _import(session, f"{WIND},2026-01,2000\n")
    registry.transfer(session, from_account=acct, to_account=buyer, product="GEC",
                      quantity=2, actor=A)
    assert registry.held_units(session, buyer, "GEC") == 2
    # Non-tradable certificates may still be claimed (retired) by their holder.
    claimed = green.claim(session, load_or_create_key(), A, account_id=acct,
                          consumer="乌江电站自用", period_start=date(2026, 1, 1),
                          period_end=date(2026, 1, 31), consumption_kwh=4000)
    assert claimed["certificates"] == 4


def test_bad_generation_files_are_refused_with_row_and_reason_nothing_written(
        session: Session) -> None:
    _projects(session)
    _import(session, f"{WIND},2024-01,1000\n")
    entries = registry.ledger_head_view(session)
    body = (f"{WIND},2024-02,-5\n"              # negative
            f"{WIND},2024-02,100\n"             # the same project and month again
            f"{WIND},2024-02,200\n"             # and again
            f"Z999999999999999X,2024-02,10\n"   # unknown project
            f"{WIND},2024-01,10\n"              # already issued
            f"{HYDRO},2024-02,12.5\n"           # not a whole kWh
            f"{HYDRO},2024-03,10\n{HYDRO},2024-05,10\n")  # gap: 2024-04 missing
    with pytest.raises(green.GenerationImportRefused) as refused:
        _import(session, body)
    reasons = dict(refused.value.problems)
    assert "negative" in reasons["line 2"] and "duplicate of line 2" in reasons["line 3"]
    assert "duplicate of line 2" in reasons["line 4"]
    assert "unknown project" in reasons["line 5"] and "already issued" in reasons["line 6"]
    assert "whole number" in reasons["line 7"] and "2024-04 missing" in reasons["line 9"]
    assert registry.ledger_head_view(session) == entries
    assert session.scalar(select(func.count()).select_from(GenerationMonth)) == 1


def test_excel_generation_file(session: Session, tmp_path: Any) -> None:
    from openpyxl import Workbook

    acct = _projects(session)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["filing_code", "month", "kwh"])
    sheet.append([WIND, "2024-05", 12345])
    path = tmp_path / "gen.xlsx"
    book.save(path)
    result = green.import_generation(session, A, filename="gen.xlsx", content=path.read_bytes())
    assert result["certificates"] == 12 and registry.held_units(session, acct, "GEC") == 12


def test_expo_claim_100_percent_26_83_t_with_factor_source_and_reported_beside(
        session: Session) -> None:
    acct = _projects(session)
    _import(session, f"{WIND},2026-01,50000\n")
    claimed = green.claim(session, load_or_create_key(), A, account_id=acct,
                          consumer="中国国际大数据产业博览会", period_start=date(2024, 8, 28),
                          period_end=date(2024, 8, 30), consumption_kwh=50_000,
                          certificates=50, factor="grid_average", region="national",
                          factor_year=2022, reported_co2_t="62.5",
                          reported_source="新闻报道 press release (25 t standard coal)")
    assert claimed["green_share"] == "100.00%" and claimed["co2_t"] == "26.83"
    assert claimed["factor_kg_per_kwh"] == "0.5366" and "生态环境部" in claimed["factor_source"]
    assert claimed["reported_co2_t"] == "62.5"
    cert = documents.certificate_view(session, claimed["certificate_number"])
    facts = cert.get("facts", cert)
    assert facts["green_share"] == "100.00%" and facts["co2_t"] == "26.83"
    assert registry.held_units(session, acct, "GEC") == 0
    with pytest.raises(Conflict):  # the same consumer and period, again
        green.claim(session, load_or_create_key(), A, account_id=acct,
                    consumer="中国国际大数据产业博览会", period_start=date(2024, 8, 28),
                    period_end=date(2024, 8, 30), consumption_kwh=50_000)
    with pytest.raises(InsufficientUnits):  # the certificates are gone: never twice
        green.claim(session, load_or_create_key(), A, account_id=acct, consumer="另一家",
                    period_start=date(2024, 9, 1), period_end=date(2024, 9, 30),
                    consumption_kwh=50_000)
    assert [c["consumer"] for c in green.public_claims(session)] == ["中国国际大数据产业博览会"]
