"""`qinglu demo`: the demo data set — the Jianhe county carbon-sink centre and its
forestry carbon-sink project, the Majiang procuratorate, and the defendant 钟某.

Identifiers are made up but valid (their check characters are right). Loading
twice changes nothing: every write carries an idempotency key.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from qinglu.cases import service as cases
from qinglu.registry import service, units
from qinglu.registry.identifiers import resident_id_check_char, uscc_check_char
from qinglu.registry.quantities import parse_quantity

ACTOR = "demo"


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


JIANHE_CENTRE = {
    "kind": "org",
    "name": "剑河县碳汇交易运营中心 Jianhe County Carbon-Sink Trading Operations Centre",
    "id_number": _uscc("12522629MB0000001"), "region": "522629",
}
MAJIANG_PROCURATORATE = {
    "kind": "org", "name": "麻江县人民检察院 Majiang County People's Procuratorate",
    "id_number": _uscc("11522635MB0000002"), "region": "522635",
}
DEFENDANT = {
    "kind": "person", "name": "钟某", "id_number": _resident_id("52263519700315001"),
    "region": "522635",
}
JIANHE_PROJECT = {
    "name": "剑河县林业碳汇项目 Jianhe County Forestry Carbon Sink Project",
    "product": "FCS", "region": "522629", "methodology": "GZ-FCS-SC-V01",
}
JIANHE_ISSUANCE_T = "20000"  # tCO2e of vintage 2023 issued to the centre


def _key(name: str) -> str:
    return f"demo:{name}"


def load_registry(session: Session) -> dict[str, Any]:
    """Holders, accounts, the Jianhe project and its issued units."""
    centre = service.add_holder(session, **JIANHE_CENTRE, actor=ACTOR,
                                idempotency_key=_key("holder:jianhe"))
    procuratorate = service.add_holder(session, **MAJIANG_PROCURATORATE, actor=ACTOR,
                                       idempotency_key=_key("holder:majiang"))
    defendant = service.add_holder(session, **DEFENDANT, actor=ACTOR,
                                   idempotency_key=_key("holder:defendant"))
    centre_account = service.open_account(session, holder_id=centre["id"], actor=ACTOR,
                                          idempotency_key=_key("account:jianhe"))
    defendant_account = service.open_account(session, holder_id=defendant["id"], actor=ACTOR,
                                             idempotency_key=_key("account:defendant"))
    project = service.add_project(session, **JIANHE_PROJECT, owner_holder_id=centre["id"],
                                  actor=ACTOR, idempotency_key=_key("project:jianhe"))
    issuance = units.issue(session, project_id=project["id"], vintage=2023,
                           quantity=parse_quantity("FCS", JIANHE_ISSUANCE_T),
                           to_account=centre_account["id"], actor=ACTOR,
                           idempotency_key=_key("issue:jianhe:2023"))
    return {
        "holders": {"jianhe_centre": centre["id"], "majiang_procuratorate": procuratorate["id"],
                    "defendant": defendant["id"]},
        "accounts": {"jianhe_centre": centre_account["id"],
                     "defendant": defendant_account["id"]},
        "projects": {"jianhe": project["id"]},
        "issuances": [issuance],
    }


MAJIANG_CASE: dict[str, Any] = {
    "number": "麻检刑公诉〔2026〕示例1号",
    "authority_kind": "procuratorate",
    "kind": "criminal_public_interest",
    "incident_date": date(2026, 3, 14),
    "region": "522635",
    "place": "麻江县某村田边山林 (field edge, Majiang county)",
    "incident": {"area": "139.2", "unit": "mu", "vegetation": "extra_tropical_forest",
                 "cause": "田边烧荒引发山火 / burning weeds at a field edge"},
}
MAJIANG_REPORT: dict[str, Any] = {
    "firm": "第三方核算机构（示例）/ accounting firm (demo)",
    "report_ref": "大气污染物排放核算报告（示例）",
    "stated_obligation": "53.96",
    "approved_by": "verifier:demo",
}
MAJIANG_PRICE = "60.00"  # CNY per tCO2e; a demo figure, not the price paid in the case


def load_majiang_case(session: Session, made: dict[str, Any]) -> dict[str, Any]:
    """The Majiang fire case, walked through to retired with the external report's 53.96 t."""
    case = cases.open_case(
        session, **MAJIANG_CASE, authority_holder_id=made["holders"]["majiang_procuratorate"],
        defendant_holder_id=made["holders"]["defendant"], actor="authority:majiang",
        idempotency_key=_key("case:majiang"))
    obligation, accounting = cases.external_report_accounting(**MAJIANG_REPORT)
    steps = [
        (cases.record_accounting, {"obligation": obligation, "accounting": accounting}),
        (cases.agree, {"quantity": obligation, "price": MAJIANG_PRICE,
                       "seller_account_id": made["accounts"]["jianhe_centre"]}),
        (cases.pay, {"reference": "DEMO-PAY-20260401-0001"}),
        (cases.retire_for_case, {}),
    ]
    for number, (step, kwargs) in enumerate(steps):
        case = step(session, case_id=case["id"], actor=ACTOR,  # type: ignore[operator]
                    idempotency_key=_key(f"case:majiang:{number}"), **kwargs)
    return case


def load_demo(session: Session) -> dict[str, Any]:
    made = load_registry(session)
    made["cases"] = {"majiang": load_majiang_case(session, made)}
    return made
