"""Monitoring reports: submitted by an operator, approved or rejected by a verifier, then
issued as carbon tickets (碳票) into the owner's account with a buffer share.

Every step is one ledger write. The issuance step puts both issuances (owner and
buffer) on a single entry, so either both exist or neither does.
"""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import Conflict, InvalidInput, InvalidTransition, NotFound, require_text
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.models import utcnow
from qinglu.core.quantities import format_quantity
from qinglu.forestry.models import MonitoringReport, Parcel
from qinglu.methods import forest
from qinglu.methods.forest import ParcelMeasurement
from qinglu.registry import actions as registry
from qinglu.registry.actions import accounts_of, get_project, system_account

OPEN_STATUSES = ("submitted", "approved", "issued")


class UnknownReport(NotFound):
    code = "unknown-monitoring-report"


def report_view(report: MonitoringReport) -> dict[str, Any]:
    return {
        "id": report.id, "project_id": report.project_id,
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(), "risk_class": report.risk_class,
        "status": report.status, "quantity": format_quantity("FCS", report.quantity),
        "quantity_units": report.quantity, "unit": "tCO2e",
        "buffer_quantity": (format_quantity("FCS", report.buffer_quantity)
                            if report.buffer_quantity is not None else None),
        "reasons": report.reasons, "submitted_by": report.submitted_by,
        "verifier": report.verifier,
        "decided_at": report.decided_at.isoformat() if report.decided_at else None,
        "issued_at": report.issued_at.isoformat() if report.issued_at else None,
        "owner_issuance_id": report.owner_issuance_id,
        "buffer_issuance_id": report.buffer_issuance_id,
        "result": report.result,
    }


def get_report(session: Session, report_id: int, *, lock: bool = False) -> MonitoringReport:
    query = select(MonitoringReport).where(MonitoringReport.id == report_id)
    report = session.scalar(query.with_for_update() if lock else query)
    if report is None:
        raise UnknownReport(f"监测报告 {report_id} 不存在",
                            f"monitoring report {report_id} does not exist")
    return report


def _compute(parcels: list[Parcel], measurements: list[dict[str, Any]], *,
             period_start: date, period_end: date, baseline_t: float, leakage_t: float,
             uncertainty_deduction: float, override_csv: str | None) -> forest.ForestResult:
    by_number = {p.number: p for p in parcels}
    given: dict[str, dict[str, Any]] = {}
    problems = []
    for row in measurements:
        number = str(row.get("number", "")).strip()
        if number not in by_number:
            problems.append(f"{number or '?'}: 不是本项目的小班 not a parcel of this project")
        elif number in given:
            problems.append(f"{number}: 重复 measured twice")
        else:
            given[number] = row
    missing = sorted(set(by_number) - set(given))
    if missing:
        problems.append(f"未测量 not measured: {', '.join(missing)}")
    if problems:
        text = "; ".join(problems)
        raise InvalidInput(f"监测数据被拒绝：{text}", f"measurements refused: {text}")
    rows = []
    for number, row in given.items():
        parcel = by_number[number]
        try:
            start = float(row.get("volume_start", parcel.volume_m3_per_mu))
            end = float(row["volume_end"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(f"{number}: 蓄积须为数字", f"{number}: volumes must be numbers"
                               ) from None
        rows.append(ParcelMeasurement(number, parcel.species, parcel.area_ha, start, end))
    if override_csv is None:
        return forest.stock_change(rows, period_start=period_start, period_end=period_end,
                                   baseline_t=baseline_t, leakage_t=leakage_t,
                                   uncertainty_deduction=uncertainty_deduction)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "override.csv"
        path.write_text(override_csv, encoding="utf-8")
        return forest.stock_change(rows, period_start=period_start, period_end=period_end,
                                   baseline_t=baseline_t, leakage_t=leakage_t,
                                   uncertainty_deduction=uncertainty_deduction, override=path)


def submit(
    session: Session, *, project_id: int, period_start: date, period_end: date,
    measurements: list[dict[str, Any]], baseline_t: float, leakage_t: float,
    risk_class: str, actor: str, uncertainty_deduction: float = 0.0,
    override_csv: str | None = None, idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Compute the period's sink and record the report as submitted."""
    forest.buffer_share(risk_class, date.today())  # refuse an unknown class up front
    request = {"project_id": project_id, "period_start": period_start.isoformat(),
               "period_end": period_end.isoformat(), "measurements": measurements,
               "baseline_t": baseline_t, "leakage_t": leakage_t,
               "uncertainty_deduction": uncertainty_deduction, "risk_class": risk_class,
               "override_csv": override_csv}

    def action(ctx: WriteContext) -> dict[str, Any]:
        project = get_project(ctx.session, project_id)
        if project.product != "FCS":
            raise InvalidInput("仅林业碳汇项目可提交监测报告",
                               "only forestry carbon-sink (FCS) projects have monitoring reports")
        parcels = list(ctx.session.scalars(
            select(Parcel).where(Parcel.project_id == project_id).order_by(Parcel.id)))
        if not parcels:
            raise InvalidInput("项目没有登记小班", "the project has no registered parcels")
        overlapping = ctx.session.scalar(select(MonitoringReport.id).where(
            MonitoringReport.project_id == project_id,
            MonitoringReport.status.in_(OPEN_STATUSES),
            MonitoringReport.period_start < period_end,
            MonitoringReport.period_end > period_start))
        if overlapping:
            raise Conflict(f"监测期与报告 {overlapping} 重叠",
                           f"the period overlaps monitoring report {overlapping}")
        result = _compute(parcels, measurements, period_start=period_start,
                          period_end=period_end, baseline_t=baseline_t, leakage_t=leakage_t,
                          uncertainty_deduction=uncertainty_deduction,
                          override_csv=override_csv)
        report = MonitoringReport(
            project_id=project_id, period_start=period_start, period_end=period_end,
            risk_class=risk_class, inputs=request, result=result.to_json_dict(),
            quantity=result.issuable_units, status="submitted", submitted_by=actor)
        ctx.session.add(report)
        ctx.session.flush()
        return report_view(report)

    return run_write(session, kind="monitoring.submit", actor=actor, request=request,
                     action=action, idempotency_key=idempotency_key)


def _decide(session: Session, kind: str, report_id: int, actor: str, request: dict[str, Any],
            step: Any, idempotency_key: str | None) -> dict[str, Any]:
    def action(ctx: WriteContext) -> dict[str, Any]:
        report = get_report(ctx.session, report_id, lock=True)
        step(ctx, report)
        ctx.session.flush()
        return report_view(report)

    return run_write(session, kind=f"monitoring.{kind}", actor=actor,
                     request={"report_id": report_id, **request}, action=action,
                     idempotency_key=idempotency_key)


def _need(report: MonitoringReport, status: str, step: str) -> None:
    if report.status != status:
        raise InvalidTransition(
            f"监测报告 {report.id} 处于“{report.status}”，{step}须在“{status}”时",
            f"monitoring report {report.id} is {report.status}; {step} needs it {status}")


def approve(session: Session, *, report_id: int, actor: str,
            idempotency_key: str | None = None) -> dict[str, Any]:
    def step(_ctx: WriteContext, report: MonitoringReport) -> None:
        _need(report, "submitted", "核证 approval")
        if report.submitted_by == actor:
            raise InvalidTransition("提交人不能核证自己的报告",
                                    "the submitter cannot approve their own report")
        report.status, report.verifier, report.decided_at = "approved", actor, utcnow()

    return _decide(session, "approve", report_id, actor, {}, step, idempotency_key)


def reject(session: Session, *, report_id: int, reasons: str, actor: str,
           idempotency_key: str | None = None) -> dict[str, Any]:
    reasons = require_text("理由 reasons", reasons, limit=2000)

    def step(_ctx: WriteContext, report: MonitoringReport) -> None:
        _need(report, "submitted", "驳回 rejection")
        report.status, report.verifier, report.decided_at = "rejected", actor, utcnow()
        report.reasons = reasons

    return _decide(session, "reject", report_id, actor, {"reasons": reasons}, step,
                   idempotency_key)


def owner_account(session: Session, holder_id: int | None) -> int:
    """The id of the owner's (first) holding account, where issued units go."""
    held = accounts_of(session, holder_id, "holding") if holder_id is not None else []
    if not held:
        raise InvalidInput("项目业主没有持有账户", "the project owner has no holding account")
    return held[0].id


def split_buffer(quantity: int, share: float) -> tuple[int, int]:
    """(owner, buffer) units: the buffer gets floor(quantity × share), the owner the rest."""
    buffer = int((Decimal(quantity) * Decimal(str(share))).to_integral_value(ROUND_FLOOR))
    return quantity - buffer, buffer


def issue(session: Session, *, report_id: int, actor: str,
          idempotency_key: str | None = None) -> dict[str, Any]:
    """Issue an approved report: owner's part and buffer part on one ledger entry."""

    def step(ctx: WriteContext, report: MonitoringReport) -> None:
        _need(report, "approved", "签发 issuance")
        if report.quantity <= 0:
            raise InvalidTransition("净碳汇为零，无可签发",
                                    "the net sink is zero: nothing to issue")
        project = get_project(ctx.session, report.project_id)
        owner = owner_account(ctx.session, project.owner_holder_id)
        buffer_account = system_account(ctx.session, "buffer")
        # The registry rule in force on the day of issuance.
        share = forest.buffer_share(report.risk_class, date.today())
        owner_units, buffer_units = split_buffer(report.quantity, share.value)
        vintage = report.period_end.year
        issued = registry.issue_in(ctx, project_id=project.id, vintage=vintage,
                                quantity=owner_units, to_account=owner)
        report.owner_issuance_id = int(issued["id"])
        records: dict[str, Any] = {"owner": issued, "buffer_share": share.as_dict("buffer_share")}
        if buffer_units:
            buffered = registry.issue_in(ctx, project_id=project.id, vintage=vintage,
                                      quantity=buffer_units, to_account=buffer_account.id)
            report.buffer_issuance_id = int(buffered["id"])
            records["buffer"] = buffered
        ctx.records["monitoring_issue"] = records
        report.buffer_quantity = buffer_units
        report.status, report.issued_at = "issued", utcnow()
        # The next period starts from the volumes this one approved.
        volumes = {row["number"]: row["volume_end"] for row in report.result["parcels"]}
        for parcel in ctx.session.scalars(select(Parcel).where(
                Parcel.project_id == project.id)):
            if parcel.number in volumes:
                parcel.volume_m3_per_mu = float(volumes[parcel.number])

    return _decide(session, "issue", report_id, actor, {}, step, idempotency_key)


def list_reports(session: Session, project_id: int | None = None) -> list[MonitoringReport]:
    query = select(MonitoringReport).order_by(MonitoringReport.id.desc())
    if project_id is not None:
        query = query.where(MonitoringReport.project_id == project_id)
    return list(session.scalars(query))
