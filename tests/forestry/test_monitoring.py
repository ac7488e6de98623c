"""Monitoring workflow: import parcels, submit a period, verifier decision, issuance with a
buffer share; every step on the ledger and the invariants hold."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import Conflict, InvalidInput, InvalidTransition
from qinglu.core.models import LedgerEntry
from qinglu.forestry import monitoring, parcels
from qinglu.forestry.models import MonitoringReport, Parcel
from qinglu.methods.forest import UnconfirmedParameters
from qinglu.registry import actions as registry
from qinglu.registry.audit import audit
from tests import factories as f
from tests.forestry.test_parcels import geojson, props, square
from tests.methods.test_forest_method import OVERRIDE

OPERATOR, VERIFIER = "operator:zhang", "verifier:li"
# Override factors (tests/test_forest_method.py): 杉木 0.99 tCO2e/m3, 马尾松 1.1458333 tCO2e/m3.
PER_M3 = {"杉木": 0.99, "马尾松": 0.3125 * 44 / 12}


def owned_project(session: Session) -> tuple[int, int]:
    owner = f.org(session, name="南哨村股份经济合作社")
    account = f.account(session, owner)
    project = registry.add_project(session, name="南哨村森林经营碳汇", product="FCS",
                                  region="522629", methodology="AR-CM-003-V01",
                                  owner_holder_id=owner, actor=OPERATOR)
    return int(project["id"]), account


def import_two(session: Session, tmp_path: Path, project: int) -> dict[str, Parcel]:
    path = geojson(tmp_path / "p.geojson", [(square(0), props("1", "杉木", 5.0)),
                                           (square(1), props("2", "马尾松", 4.0))])
    parcels.import_file(session, project_id=project, path=path, actor=OPERATOR)
    return {p.number: p for p in session.scalars(select(Parcel))}


def submit(session: Session, project: int, **kwargs: object) -> dict[str, object]:
    args: dict[str, object] = {
        "project_id": project, "period_start": date(2024, 1, 1),
        "period_end": date(2025, 12, 31),
        "measurements": [{"number": "12-1", "volume_end": 6.0},
                         {"number": "12-2", "volume_end": 6.4}],
        "baseline_t": 5.0, "leakage_t": 0.0, "uncertainty_deduction": 0.1,
        "risk_class": "medium", "actor": OPERATOR, "override_csv": OVERRIDE}
    args.update(kwargs)
    return monitoring.submit(session, **args)  # type: ignore[arg-type]


def test_submit_approve_issue_with_buffer(session: Session, tmp_path: Path) -> None:
    project, owner_account = owned_project(session)
    stored = import_two(session, tmp_path, project)
    report = submit(session, project)
    # By hand: ΔC = ΔV/mu × area_mu × factor; 杉木 +1.0, 马尾松 +2.4 m3/mu.
    mu = {n: p.area_ha * 15 for n, p in stored.items()}
    gross = 1.0 * mu["12-1"] * PER_M3["杉木"] + 2.4 * mu["12-2"] * PER_M3["马尾松"]
    net = (gross - 5.0) * 0.9
    expected_units = int(net * 100)  # rounded down
    assert report["status"] == "submitted"
    assert report["quantity_units"] == expected_units
    assert report["result"]["gross_t"] == pytest.approx(gross, abs=1e-5)  # type: ignore[index]

    with pytest.raises(InvalidTransition):  # not approved yet
        monitoring.issue(session, report_id=int(report["id"]), actor=OPERATOR)  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):  # no self-approval
        monitoring.approve(session, report_id=int(report["id"]), actor=OPERATOR)  # type: ignore[arg-type]
    approved = monitoring.approve(session, report_id=int(report["id"]), actor=VERIFIER)  # type: ignore[arg-type]
    assert approved["status"] == "approved" and approved["verifier"] == VERIFIER

    issued = monitoring.issue(session, report_id=int(report["id"]), actor=OPERATOR,  # type: ignore[arg-type]
                              idempotency_key="issue-1")
    buffer_units = expected_units * 15 // 100  # medium risk: 15 %, rounded down
    assert issued["status"] == "issued"
    assert issued["buffer_quantity"] == f"{buffer_units / 100:.2f}"
    owner = registry.balance(session, owner_account)["FCS"]["held"]
    assert owner == f"{(expected_units - buffer_units) / 100:.2f}"
    buffer = registry.system_account(session, "buffer")
    assert registry.balance(session, buffer.id)["FCS"]["held"] == f"{buffer_units / 100:.2f}"
    # A retry with the same key moves nothing more.
    again = monitoring.issue(session, report_id=int(report["id"]), actor=OPERATOR,  # type: ignore[arg-type]
                             idempotency_key="issue-1")
    assert again["owner_issuance_id"] == issued["owner_issuance_id"]
    assert registry.balance(session, owner_account)["FCS"]["held"] == owner
    # Every step is on the record; one entry carries both issuances.
    kinds = list(session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.sequence)))
    assert kinds[-3:] == ["monitoring.submit", "monitoring.approve", "monitoring.issue"]
    assert audit(session).ok
    # Parcels carry the approved volumes forward.
    session.expire_all()
    assert session.get(Parcel, stored["12-2"].id).volume_m3_per_mu == pytest.approx(6.4)  # type: ignore[union-attr]
    with pytest.raises(InvalidTransition):
        monitoring.issue(session, report_id=int(report["id"]), actor=OPERATOR)  # type: ignore[arg-type]


def test_reject_with_reasons(session: Session, tmp_path: Path) -> None:
    project, _ = owned_project(session)
    import_two(session, tmp_path, project)
    report = submit(session, project)
    rejected = monitoring.reject(session, report_id=int(report["id"]),  # type: ignore[arg-type]
                                 reasons="样地复测不足 too few plots re-measured", actor=VERIFIER)
    assert rejected["status"] == "rejected" and "plots" in str(rejected["reasons"])
    with pytest.raises(InvalidTransition):
        monitoring.approve(session, report_id=int(report["id"]), actor=VERIFIER)  # type: ignore[arg-type]
    # A rejected period can be submitted again.
    assert submit(session, project)["status"] == "submitted"


def test_refusals(session: Session, tmp_path: Path) -> None:
    project, _ = owned_project(session)
    import_two(session, tmp_path, project)
    with pytest.raises(InvalidInput, match="12-2"):  # every parcel must be measured
        submit(session, project, measurements=[{"number": "12-1", "volume_end": 6.0}])
    with pytest.raises(UnconfirmedParameters):  # packaged values are unconfirmed
        submit(session, project, override_csv=None)
    submit(session, project)
    with pytest.raises(Conflict):  # overlapping period
        submit(session, project, period_start=date(2025, 6, 1), period_end=date(2026, 6, 1))
    assert session.scalar(select(MonitoringReport.id).where(
        MonitoringReport.status == "submitted")) is not None


def test_split_buffer_rounds_the_buffer_down() -> None:
    assert monitoring.split_buffer(5850, 0.15) == (4973, 877)
    assert monitoring.split_buffer(1, 0.2) == (1, 0)


def test_monitoring_report_pdf(session: Session, tmp_path: Path) -> None:
    from qinglu.forestry.report import render_monitoring_report, report_doc

    project, _ = owned_project(session)
    import_two(session, tmp_path, project)
    report = submit(session, project)
    record = monitoring.get_report(session, int(report["id"]))  # type: ignore[arg-type]
    doc = report_doc(session, record)
    assert doc.title_zh == "林业碳汇监测报告" and len(doc.emissions) == 2
    assert any("12-2 马尾松" in label for label, _ in doc.emissions)
    pdf = render_monitoring_report(session, record)
    assert pdf.startswith(b"%PDF")


def test_parcels_from_geojson_and_a_gbk_shapefile_issue_with_buffer(
        session: Session, tmp_path: Path) -> None:
    """The issue's first demonstration: both file kinds, two species, by hand."""
    import numpy as np
    from pyogrio.raw import write
    from shapely import to_wkb

    project, owner_account = owned_project(session)
    import_two(session, tmp_path, project)  # GeoJSON: 12-1 杉木, 12-2 马尾松
    shp = tmp_path / "xiaoban.shp"
    write(str(shp), np.array([to_wkb(square(3)), to_wkb(square(4))], dtype=object),
          [np.array(["1", "2"], dtype=object), np.array(["13", "13"], dtype=object),
           np.array(["杉木", "马尾松"], dtype=object), np.array([5.0, 4.0])],
          ["小班", "林班", "树种", "每亩蓄积"], geometry_type="Polygon", crs="EPSG:4490",
          encoding="GBK", driver="ESRI Shapefile")
    shp.with_suffix(".cpg").unlink(missing_ok=True)  # the reader falls back to GBK
    parcels.import_file(session, project_id=project, path=shp, actor=OPERATOR)
    stored = {p.number: p for p in session.scalars(select(Parcel))}
    assert sorted(stored) == ["12-1", "12-2", "13-1", "13-2"]
    growth = {"12-1": 1.0, "12-2": 2.4, "13-1": 0.5, "13-2": 1.0}  # m3 per mu
    report = submit(session, project, baseline_t=0.0, uncertainty_deduction=0.0, measurements=[
        {"number": n, "volume_end": stored[n].volume_m3_per_mu + g} for n, g in growth.items()])
    # By hand: tCO2e = growth per mu × area in mu × the species' tCO2e per m3.
    gross = sum(g * stored[n].area_ha * 15 * PER_M3[stored[n].species]
                for n, g in growth.items())
    assert report["quantity_units"] == int(gross * 100)  # 0.01 t units, rounded down
    monitoring.approve(session, report_id=int(report["id"]), actor=VERIFIER)  # type: ignore[arg-type]
    monitoring.issue(session, report_id=int(report["id"]), actor=OPERATOR)  # type: ignore[arg-type]
    buffer_units = int(gross * 100) * 15 // 100
    assert registry.balance(session, owner_account)["FCS"]["held"] == \
        f"{(int(gross * 100) - buffer_units) / 100:.2f}"
    assert audit(session).ok
