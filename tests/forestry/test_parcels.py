"""Parcel import: GeoJSON, a GBK shapefile, an attribute table, overlap refusal, bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shapely import to_wkb
from shapely.geometry import box, mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qinglu.core.ledger import ledger_head
from qinglu.forestry import parcels
from qinglu.forestry.models import Parcel
from tests import factories as f

A = "test"
LON, LAT = 108.40, 26.70  # Jianhe county
STEP = 0.002  # about 200 m east-west, 220 m north-south: ~66 mu a parcel


def square(i: int, j: int = 0, shrink: float = 0.0) -> Any:
    x, y = LON + i * STEP, LAT + j * STEP
    return box(x + shrink, y + shrink, x + STEP - shrink, y + STEP - shrink)


def geojson(path: Path, features: list[tuple[Any, dict[str, Any]]],
            crs: str | None = None) -> Path:
    data: dict[str, Any] = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(g) if g is not None else None,
         "properties": p} for g, p in features]}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def props(number: str, species: str = "杉木", volume: float | None = 8.5) -> dict[str, Any]:
    base: dict[str, Any] = {"林班": "12", "小班": number, "树种": species, "林权人": "某村集体"}
    if volume is not None:
        base["每亩蓄积"] = volume
    return base


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Parcel)) or 0)


def test_geojson_import_two_species(session: Session, tmp_path: Path) -> None:
    project = f.project(session)
    path = geojson(tmp_path / "p.geojson", [(square(0), props("1")),
                                           (square(1), props("2", "马尾松", 6.0))])
    report = parcels.import_file(session, project_id=project, path=path, actor=A)
    assert [p["number"] for p in report.imported] == ["12-1", "12-2"]
    # 0.002 x 0.002 degrees at 26.7 N: ~199 m x ~222 m = ~4.42 ha = ~66 mu.
    assert report.imported[0]["area_ha"] == pytest.approx(4.42, rel=0.01)
    stored = session.scalars(select(Parcel).order_by(Parcel.id)).all()
    assert [p.species for p in stored] == ["杉木", "马尾松"]


def test_shapefile_with_gbk_attributes(session: Session, tmp_path: Path) -> None:
    from pyogrio.raw import write

    project = f.project(session)
    path = tmp_path / "xiaoban.shp"
    geometries = np.array([to_wkb(square(0)), to_wkb(square(1))], dtype=object)
    fields = ["小班", "林班", "树种", "每亩蓄积", "村"]
    values = [np.array(["1", "2"], dtype=object), np.array(["7", "7"], dtype=object),
              np.array(["杉木", "马尾松"], dtype=object), np.array([8.0, 6.5]),
              np.array(["南哨村", "南哨村"], dtype=object)]
    write(str(path), geometries, values, fields, geometry_type="Polygon", crs="EPSG:4490",
          encoding="GBK", driver="ESRI Shapefile")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # make the reader fall back to GBK
    report = parcels.import_file(session, project_id=project, path=path, actor=A)
    assert [p["number"] for p in report.imported] == ["7-1", "7-2"]
    assert session.scalar(select(Parcel.village).where(Parcel.number == "7-1")) == "南哨村"


def test_attribute_table_joined_by_number(session: Session, tmp_path: Path) -> None:
    project = f.project(session)
    path = geojson(tmp_path / "g.geojson", [(square(0), {"林班": "3", "小班": "9"})])
    table = tmp_path / "attrs.csv"
    table.write_text("林班,小班,树种,每亩蓄积,林权人\n3,9,柏木,10.2,某林场\n", encoding="utf-8")
    report = parcels.import_file(session, project_id=project, path=path, actor=A,
                                 attributes=table)
    assert report.imported[0]["number"] == "3-9"
    assert session.scalar(select(Parcel.species)) == "柏木"


def test_overlap_with_another_project_is_refused_and_named(session: Session,
                                                           tmp_path: Path) -> None:
    first, second = f.project(session), f.project(session)
    parcels.import_file(session, project_id=first, actor=A,
                        path=geojson(tmp_path / "a.geojson", [(square(0), props("1"))]))
    before = (ledger_head(session), count(session))
    overlapping = box(LON + STEP / 2, LAT, LON + STEP * 1.5, LAT + STEP)  # half of 12-1
    with pytest.raises(parcels.OverlapConflict) as caught:
        parcels.import_file(session, project_id=second, actor=A, path=geojson(
            tmp_path / "b.geojson", [(overlapping, props("5"))]))
    assert "12-1" in caught.value.en and f"project {first}" in caught.value.en
    assert "m²" in caught.value.en
    assert (ledger_head(session), count(session)) == before


def test_touching_borders_and_slivers_are_accepted(session: Session, tmp_path: Path) -> None:
    first, second = f.project(session), f.project(session)
    parcels.import_file(session, project_id=first, actor=A,
                        path=geojson(tmp_path / "a.geojson", [(square(0), props("1"))]))
    touching = square(1)  # shares the eastern border exactly
    # A sliver: 0.5 m (about 0.0000045 degrees) over the border along 222 m = ~110 m²,
    # under 0.5 % of a 4.4 ha parcel (221 m²).
    sliver = box(LON, LAT + STEP - 0.0000045, LON + STEP, LAT + 2 * STEP)
    report = parcels.import_file(session, project_id=second, actor=A, path=geojson(
        tmp_path / "b.geojson", [(touching, props("2")), (sliver, props("3"))]))
    assert len(report.imported) == 2


BOWTIE = {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + STEP, LAT + STEP],
                                              [LON + STEP, LAT], [LON, LAT + STEP],
                                              [LON, LAT]]]}


@pytest.mark.parametrize("kind, reason", [
    ("invalid geometry", "invalid geometry"),
    ("unknown species", "unknown species"),
    ("missing volume", "missing stand volume"),
    ("wrong crs", "wrong CRS"),
])
def test_bad_files_are_refused_with_row_and_reason(session: Session, tmp_path: Path,
                                                   kind: str, reason: str) -> None:
    project = f.project(session)
    good = {"type": "Feature", "geometry": mapping(square(0)), "properties": props("1")}
    bad: dict[str, Any] = {"type": "Feature", "geometry": mapping(square(1)),
                           "properties": props("2")}
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": [good, bad]}
    if kind == "invalid geometry":
        bad["geometry"] = BOWTIE
    elif kind == "unknown species":
        bad["properties"] = props("2", species="月桂树")
    elif kind == "missing volume":
        bad["properties"] = props("2", volume=None)
    else:  # metres in a Gauss-Krüger zone, but the file names no CRS
        bad["geometry"] = mapping(box(500_000, 2_950_000, 500_200, 2_950_200))
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    before = (ledger_head(session), count(session))
    with pytest.raises(parcels.ParcelImportError) as caught:
        parcels.import_file(session, project_id=project, path=path, actor=A)
    assert caught.value.problems[0][0] == "feature 2 (12-2)"
    assert reason in caught.value.problems[0][1]
    assert (ledger_head(session), count(session)) == before
    skipped = parcels.import_file(session, project_id=project, path=path, actor=A,
                                  skip_bad=True)
    assert [p["number"] for p in skipped.imported] == ["12-1"]
    assert skipped.skipped[0][0] == "feature 2 (12-2)"


def test_projected_gauss_kruger_file_is_accepted(session: Session, tmp_path: Path) -> None:
    from pyproj import Transformer

    project = f.project(session)
    # CGCS2000 / 3-degree Gauss-Kruger CM 108E (EPSG:4544) covers Jianhe county.
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4544", always_xy=True)
    x0, y0 = to_gk.transform(LON, LAT)
    path = geojson(tmp_path / "gk.geojson", [(box(x0, y0, x0 + 200, y0 + 200), props("1"))],
                   crs="EPSG:4544")
    report = parcels.import_file(session, project_id=project, path=path, actor=A)
    assert report.imported[0]["area_ha"] == pytest.approx(4.0, rel=0.01)
