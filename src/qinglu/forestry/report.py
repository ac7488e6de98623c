"""The monitoring report PDF (林业碳汇监测报告), Chinese with English beside it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from qinglu.core.identifiers import region_name
from qinglu.core.quantities import format_quantity
from qinglu.documents.pdf import ReportDoc, render_report
from qinglu.forestry.models import MonitoringReport
from qinglu.registry.actions import get_holder, get_project

STATUS_NAMES = {"submitted": "已提交 submitted", "approved": "已核证 approved",
                "rejected": "已驳回 rejected", "issued": "已签发 issued"}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def report_doc(session: Session, report: MonitoringReport) -> ReportDoc:
    project = get_project(session, report.project_id)
    owner = get_holder(session, project.owner_holder_id) if project.owner_holder_id else None
    result = report.result
    facts = [
        ("项目 Project", f"{project.name} (#{project.id})"),
        ("业主 Owner", owner.name if owner else "—"),
        ("地区 Region", f"{region_name(project.region)} ({project.region})"),
        ("方法学 Methodology", project.methodology),
        ("监测期 Monitoring period",
         f"{report.period_start.isoformat()} — {report.period_end.isoformat()}"),
        ("方法 Method", f"{result['method']['id']} v{result['method']['version']}: "
                        f"{result['method']['equation']}"),
        ("状态 Status", STATUS_NAMES.get(report.status, report.status)
         + (f"：{report.reasons}" if report.reasons else "")),
        ("风险等级 Risk class", report.risk_class),
    ]
    rows = [(f"{p['number']} {p['species']} {p['area_mu']:.2f} 亩 mu",
             f"ΔV {p['delta_v_m3']:.3f} m³ ({_fmt(p['volume_start'])}→{_fmt(p['volume_end'])}"
             f" m³/亩) × {p['tco2e_per_m3']:.4f} = {p['delta_c_t']:.3f} tCO2e")
            for p in result["parcels"]]
    totals = [
        ("项目碳储量变化 Gross stock change", f"{result['gross_t']:.3f} tCO2e"),
        ("基线 Baseline", f"{_fmt(result['baseline_t'])} tCO2e"),
        ("泄漏 Leakage", f"{_fmt(result['leakage_t'])} tCO2e"),
        ("不确定性扣减 Uncertainty deduction", f"{result['uncertainty_deduction']:.1%}"),
        ("净碳汇 Net sink", f"{result['net_t']:.3f} tCO2e"),
        ("可签发（向下取整至0.01吨）Issuable, rounded down", f"{result['issuable_t']} tCO2e"),
    ]
    if report.buffer_quantity is not None:
        totals.append(("缓冲账户 Buffer share", f"{format_quantity('FCS', report.buffer_quantity)}"
                                                " tCO2e"))
    parameters = [(p["name"], f"{_fmt(p['value'])} {p['unit']}", p["source"])
                  for p in result["parameters"]]
    signatures = [("提交 Submitted by", report.submitted_by),
                  ("核证 Verified by", report.verifier or "—")]
    return ReportDoc(number=f"MR-{report.project_id}-{report.id}", title_zh="林业碳汇监测报告",
                     title_en="Forest Carbon Sink Monitoring Report", facts=facts,
                     parameters=parameters, emissions=rows, totals=totals,
                     signatures=signatures, emissions_heading="各小班碳汇 Sink per parcel")


def render_monitoring_report(session: Session, report: MonitoringReport) -> bytes:
    return render_report(report_doc(session, report))
