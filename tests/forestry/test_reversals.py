"""Reversals: a fire over part of a registered parcel cancels the burned share of what was
credited from it from the buffer (hand-computed); a short buffer flags the project and
reports the shortfall."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box, mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.cases import actions as cases
from qinglu.core.errors import Conflict, InvalidInput
from qinglu.forestry import monitoring, reversals
from qinglu.forestry.models import Parcel, Reversal
from qinglu.registry import actions as registry
from qinglu.registry.audit import audit
from qinglu.registry.models import Project
from tests import factories as f
from tests.forestry.test_monitoring import (
    OPERATOR,
    PER_M3,
    VERIFIER,
    import_two,
    owned_project,
    submit,
)
from tests.forestry.test_parcels import LAT, LON, STEP

# PER_M3: 杉木 0.99, 马尾松 1.1458333 tCO2e/m3 under the test override.



def issued_project(session: Session, tmp_path: Path, risk: str) -> tuple[int, dict[str, Any]]:
    project, _ = owned_project(session)
    import_two(session, tmp_path, project)
    report = submit(session, project, risk_class=risk)
    monitoring.approve(session, report_id=int(report["id"]), actor=VERIFIER)  # type: ignore[arg-type]
    return project, monitoring.issue(session, report_id=int(report["id"]), actor=OPERATOR)  # type: ignore[arg-type]


def fire_case(session: Session) -> int:
    authority = f.org(session, name="剑河县人民检察院")
    defendant = f.org(session, name="某公司")
    case = cases.open_case(
        session, number="剑检〔2026〕3号", authority_holder_id=authority,
        authority_kind="procuratorate", kind="civil", defendant_holder_id=defendant,
        incident_date=date(2026, 3, 1), region="522629", place="南哨村",
        incident={"area": "10", "unit": "mu", "vegetation": "extra_tropical_forest"},
        actor=OPERATOR)
    return int(case["id"])


def buffer_held(session: Session) -> int:
    held = registry.balance(session, registry.system_account(session, "buffer").id)
    return round(float(held.get("FCS", {}).get("held", "0")) * 100)


def test_fire_over_half_a_parcel(session: Session, tmp_path: Path) -> None:
    project, issued = issued_project(session, tmp_path, "high")
    buffer_before = buffer_held(session)
    assert buffer_before == round(float(issued["buffer_quantity"]) * 100)
    # The burned polygon covers the west 1/40 of parcel 12-1 (杉木) and nothing else: the
    # geodesic area of a lon/lat box is proportional to its longitude span, so the burned
    # share is exactly 1/40.
    burned = box(LON - STEP, LAT, LON + STEP / 40, LAT + STEP)
    case_id = fire_case(session)
    reversals.set_burned_area(session, case_id=case_id, geojson=mapping(burned), actor=OPERATOR)
    result = reversals.reverse(session, case_id=case_id, actor=OPERATOR)
    area = {p.number: p.area_ha for p in session.scalars(select(Parcel))}
    # By hand (submit() in tests/test_monitoring.py): growth 杉木 +1.0, 马尾松 +2.4 m3/mu.
    d_fir = 1.0 * area["12-1"] * 15 * PER_M3["杉木"]
    d_pine = 2.4 * area["12-2"] * 15 * PER_M3["马尾松"]
    issued_units = int((d_fir + d_pine - 5.0) * 0.9 * 100)  # baseline 5 t, deduction 10 %
    buffer_units = issued_units * 20 // 100  # high risk: 20 %, rounded down
    assert issued["buffer_quantity"] == f"{buffer_units / 100:.2f}"
    owner_t = (issued_units - buffer_units) / 100
    # 杉木 was credited its share of the owner's units by stock change; a fortieth burned;
    # the loss is rounded up to 0.01 t. (Its standing stock, 6.0 m3/mu x area x 0.99, is
    # several times more and is not what the buffer backs.)
    credited_fir = owner_t * d_fir / (d_fir + d_pine)
    lost = math.ceil(round(credited_fir / 40, 6) * 100)
    [row] = result["reversals"]
    assert row["parcels"][0]["share"] == pytest.approx(1 / 40, abs=1e-7)
    assert row["parcels"][0]["credited_t"] == pytest.approx(credited_fir, abs=1e-6)
    assert row["lost"] == lost and row["cancelled"] == lost and row["shortfall"] == 0
    assert buffer_held(session) == buffer_before - lost
    assert session.get(Project, project).status != "flagged"  # type: ignore[union-attr]
    assert audit(session).ok
    with pytest.raises(Conflict):
        reversals.reverse(session, case_id=case_id, actor=OPERATOR)


def test_short_buffer_flags_the_project(session: Session, tmp_path: Path) -> None:
    project, issued = issued_project(session, tmp_path, "low")
    buffer_before = buffer_held(session)
    burned = box(LON - STEP, LAT - STEP, LON + 3 * STEP, LAT + 2 * STEP)  # both parcels, whole
    case_id = fire_case(session)
    reversals.set_burned_area(session, case_id=case_id, geojson=mapping(burned), actor=OPERATOR)
    result = reversals.reverse(session, case_id=case_id, actor=OPERATOR)
    [row] = result["reversals"]
    # Both parcels burned whole: the loss is everything credited to the owner, i.e. the
    # owner's units (90 % at low risk), while the buffer holds only 10 %.
    owner_units = int(issued["quantity_units"]) - buffer_before
    assert row["lost"] == owner_units
    assert sum(p["credited_t"] for p in row["parcels"]) == pytest.approx(owner_units / 100)
    assert row["cancelled"] == buffer_before and buffer_held(session) == 0
    assert row["shortfall"] == row["lost"] - buffer_before > 0
    assert result["shortfall"] == row["shortfall"] and row["project_flagged"]
    session.expire_all()
    assert session.get(Project, project).status == "flagged"  # type: ignore[union-attr]
    stored = session.scalar(select(Reversal).where(Reversal.case_id == case_id))
    assert stored is not None and stored.shortfall == row["shortfall"]
    assert audit(session).ok


def test_burned_area_refusals(session: Session) -> None:
    case_id = fire_case(session)
    with pytest.raises(InvalidInput):
        reversals.reverse(session, case_id=case_id, actor=OPERATOR)
    with pytest.raises(InvalidInput):
        reversals.set_burned_area(session, case_id=case_id,
                                  geojson={"type": "Point", "coordinates": [108.4, 26.7]},
                                  actor=OPERATOR)
    with pytest.raises(InvalidInput):  # projected metres, not lon/lat
        reversals.set_burned_area(session, case_id=case_id,
                                  geojson=mapping(box(500000, 2900000, 500100, 2900100)),
                                  actor=OPERATOR)


def test_reversal_api_and_cli(database_url: str, session: Session, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from qinglu.accounts import actions as accounts
    from qinglu.cli import app as cli
    from qinglu.web.app import create_app
    from tests.registry.test_api_registry import token

    issued_project(session, tmp_path, "high")
    first = fire_case(session)
    authority = f.org(session, name="丹寨县人民检察院")
    second = int(cases.open_case(
        session, number="丹检〔2026〕4号", authority_holder_id=authority,
        authority_kind="procuratorate", kind="civil", defendant_holder_id=authority,
        incident_date=date(2026, 3, 2), region="522629", place="南哨村",
        incident={"area": "1", "unit": "mu"}, actor=OPERATOR)["id"])
    accounts.add_user(session, name="op", role="operator", password="correct horse")
    strip = mapping(box(LON - STEP, LAT, LON + STEP / 40, LAT + STEP))
    with TestClient(create_app(database_url)) as client:
        op = token(client, "op")
        assert client.post(f"/api/v1/cases/{first}/reversal", json={}).status_code == 401
        done = client.post(f"/api/v1/cases/{first}/reversal", headers=op,
                           json={"burned_polygon": strip})
        assert done.status_code == 200, done.text
        assert done.json()["reversals"][0]["cancelled"] > 0
    path = tmp_path / "burned.geojson"
    path.write_text(json.dumps(strip), encoding="utf-8")
    monkeypatch.setenv("QINGLU_ACTOR", OPERATOR)
    result = CliRunner().invoke(cli, ["monitoring", "reversal", str(second), "--geojson",
                                      str(path), "--db", database_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reversals"][0]["shortfall"] == 0


def test_a_feature_collection_burns_the_union_of_its_polygons(
        database_url: str, session: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The file a GIS desk exports is a FeatureCollection; two overlapping patches of it
    burn their union, the overlap once (the same fortieth of 12-1 as drawn in one box)."""
    import json

    from typer.testing import CliRunner

    from qinglu.cli import app as cli

    issued_project(session, tmp_path, "high")
    case_id = fire_case(session)
    west = box(LON - STEP, LAT, LON + STEP / 80, LAT + STEP)
    east = box(LON, LAT, LON + STEP / 40, LAT + STEP)
    path = tmp_path / "burned.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"patch": n}, "geometry": mapping(patch)}
        for n, patch in enumerate((west, east))]}), encoding="utf-8")
    monkeypatch.setenv("QINGLU_ACTOR", OPERATOR)
    result = CliRunner().invoke(cli, ["monitoring", "reversal", str(case_id), "--geojson",
                                      str(path), "--db", database_url, "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)["reversals"]
    assert [p["number"] for p in row["parcels"]] == ["12-1"]
    assert row["parcels"][0]["share"] == pytest.approx(1 / 40, abs=1e-7)
    assert row["cancelled"] == row["lost"] > 0
