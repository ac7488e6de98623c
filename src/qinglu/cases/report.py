"""The air-pollutant emission accounting report (大气污染物排放核算报告) of a case."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from qinglu.cases.models import Case
from qinglu.core.errors import InvalidTransition
from qinglu.core.identifiers import region_name
from qinglu.documents.pdf import ReportDoc, render_report
from qinglu.methods.fire import CATEGORY_NAMES, SPECIES_NAMES
from qinglu.registry.actions import get_holder, public_name

KIND_NAMES = {
    "criminal_public_interest": "刑事附带民事公益诉讼 criminal case with public-interest claim",
    "civil": "民事公益诉讼 civil public-interest case",
    "administrative": "行政执法 administrative enforcement",
}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def report_doc(session: Session, case: Case) -> ReportDoc:
    accounting = case.accounting or {}
    if case.obligation is None or accounting.get("source") != "qinglu":
        raise InvalidTransition(
            "此案未由青绿方法核算（外部报告见其原件）",
            "this case was not accounted by Qinglu's method (see the external report itself)")
    result: dict[str, Any] = accounting["result"]
    authority = get_holder(session, case.authority_holder_id)
    defendant = get_holder(session, case.defendant_holder_id)
    inputs = result["inputs"]
    facts = [
        ("案号 Case number", case.number),
        ("办案机关 Authority", authority.name),
        ("案件类型 Case kind", KIND_NAMES.get(case.kind, case.kind)),
        ("当事人 Party", public_name(defendant.kind, defendant.name)),
        ("事发日期 Incident date", case.incident_date.isoformat()),
        ("地点 Location", f"{region_name(case.region)} ({case.region}) {case.place}"),
        ("植被类型 Vegetation", CATEGORY_NAMES.get(inputs["vegetation"], inputs["vegetation"])),
        ("过火面积 Burned area", f"{result['area_ha']:.4f} ha = {result['area_mu']:.2f} 亩 mu"
         + ("（多边形测算 from polygon）" if inputs.get("geojson") else "")),
        ("可燃物消耗量 Fuel consumed", f"{_fmt(result['fuel_consumed_t_per_ha'])} t DM/ha"
         + ("（默认值 default）" if "fuel_consumed" in result["defaults_used"] else
            "（现场测量 measured on site）")),
        ("方法 Method", f"{result['method']['id']} v{result['method']['version']}: "
                        f"{result['method']['equation']}"),
        ("因子集 Factor sets", f"EF {result['ef_set']}; GWP {result['gwp_set']}; "
                              f"CO {result['co_treatment']}"),
    ]
    emissions = [(f"{SPECIES_NAMES.get(gas, gas)} {gas}", f"{tonnes:.4f}")
                 for gas, tonnes in result["emissions_t"].items()]
    totals = [
        ("干物质 Dry matter burnt", f"{result['dry_matter_t']:.3f} t"),
        (f"CO2 当量 CO2e ({result['gwp_set']})", f"{result['co2e_t']:.4f} t"),
        ("核算义务（向上取整至0.01吨）Obligation, rounded up", f"{result['obligation_t']} tCO2e"),
    ]
    parameters = [(p["name"], f"{_fmt(p['value'])} {p['unit']}", p["source"])
                  for p in result["parameters"]]
    signatures = [("编制 Prepared by", str(accounting.get("prepared_by", "青绿 Qinglu"))),
                  ("核验 Verified by", str(accounting.get("approved_by", "—")))]
    return ReportDoc(number=f"{case.number} / R{case.id}", title_zh="大气污染物排放核算报告",
                     title_en="Air-Pollutant Emission Accounting Report", facts=facts,
                     parameters=parameters, emissions=emissions, totals=totals,
                     signatures=signatures)


def render_case_report(session: Session, case: Case) -> bytes:
    return render_report(report_doc(session, case))
