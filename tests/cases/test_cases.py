"""The case workflow, on both backends: the Majiang case's steps and their refusals."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from qinglu.cases import actions as cases
from qinglu.core.errors import InvalidInput, InvalidTransition
from qinglu.core.ledger import ledger_head
from qinglu.registry import actions as registry
from qinglu.registry.audit import audit
from tests import factories as f

A = "procurator:test"


@pytest.fixture
def opened(session: Session) -> dict[str, Any]:
    seller, project, _issued = f.issued_account(session, quantity=100_000)
    authority = f.org(session, name="麻江县人民检察院", region="522635")
    defendant = registry.add_holder(session, kind="person", name="钟某某",
                                   id_number=f.make_resident_id(), region="522635",
                                   actor=A)["id"]
    case = cases.open_case(
        session, number="麻检公益〔2026〕1号", authority_holder_id=authority,
        authority_kind="procuratorate", kind="criminal_public_interest",
        defendant_holder_id=defendant, incident_date=date(2026, 3, 14), region="522635",
        place="麻江县某村田边", incident={"area": "139.2", "unit": "mu",
                                       "vegetation": "extra_tropical_forest"}, actor=A)
    return {"case": case["id"], "seller": seller, "project": project}


def _account(session: Session, case_id: int) -> None:
    obligation, accounting = cases.external_report_accounting(
        firm="某环境咨询公司", report_ref="R-2026-01", stated_obligation="53.96",
        approved_by="verifier:王某")
    assert obligation == 5396
    cases.record_accounting(session, case_id=case_id, obligation=obligation,
                            accounting=accounting, actor="verifier")


def test_majiang_steps_retire_exactly_the_agreed_units(session: Session,
                                                         opened: dict[str, Any]) -> None:
    case_id, seller = opened["case"], opened["seller"]
    _account(session, case_id)
    agreed = cases.agree(session, case_id=case_id, quantity=5396, seller_account_id=seller,
                         price="60.00", actor=A)
    assert agreed["agreement"]["amount_cny"] == "3237.60"
    assert registry.balance(session, seller)["FCS"]["escrow"] == "53.96"
    cases.pay(session, case_id=case_id, reference="BANK-20260401-001", actor="operator")
    retired = cases.retire_for_case(session, case_id=case_id, actor="operator")
    assert retired["status"] == "retired"
    found = registry.find_serial(session, agreed["agreement"]["serials"][0])
    assert [(r["state"], r["retirement_id"]) for r in found] == [
        ("retired", retired["retirement_id"])]
    assert registry.balance(session, seller) == {"FCS": {"held": "946.04", "escrow": "0.00"}}
    assert audit(session).ok


def test_steps_out_of_order_are_refused(session: Session, opened: dict[str, Any]) -> None:
    case_id = opened["case"]
    before = ledger_head(session)
    with pytest.raises(InvalidTransition, match="needs the case to be accounted"):
        cases.agree(session, case_id=case_id, quantity=5396,
                    seller_account_id=opened["seller"], price="60", actor=A)
    with pytest.raises(InvalidTransition):
        cases.pay(session, case_id=case_id, reference="X", actor=A)
    with pytest.raises(InvalidTransition):
        cases.retire_for_case(session, case_id=case_id, actor=A)
    assert ledger_head(session) == before


def test_agreement_below_the_obligation_is_refused(session: Session,
                                                   opened: dict[str, Any]) -> None:
    _account(session, opened["case"])
    before = ledger_head(session)
    with pytest.raises(InvalidInput, match="below the obligation"):
        cases.agree(session, case_id=opened["case"], quantity=5395,
                    seller_account_id=opened["seller"], price="60", actor=A)
    assert ledger_head(session) == before
    assert registry.balance(session, opened["seller"])["FCS"]["escrow"] == "0.00"


def test_paying_twice_and_retiring_a_closed_case(session: Session,
                                                 opened: dict[str, Any]) -> None:
    case_id = opened["case"]
    _account(session, case_id)
    cases.agree(session, case_id=case_id, quantity=6000, seller_account_id=opened["seller"],
                price="60", actor=A)
    cases.pay(session, case_id=case_id, reference="P1", actor=A)
    with pytest.raises(InvalidTransition, match="paid already"):
        cases.pay(session, case_id=case_id, reference="P2", actor=A)
    cases.retire_for_case(session, case_id=case_id, actor=A)
    case = cases.get_case(session, case_id)
    case.status = "certified"  # the certification step is covered with the documents
    session.commit()
    cases.close_case(session, case_id=case_id, actor=A)
    before = ledger_head(session)
    with pytest.raises(InvalidTransition, match="closed"):
        cases.retire_for_case(session, case_id=case_id, actor=A)
    assert ledger_head(session) == before
