"""Importing forest parcels (小班) and refusing double registration.

Sources: GeoJSON, ESRI Shapefile (read with pyogrio; Chinese attributes are often
GBK) and an optional CSV/Excel attribute table joined by parcel number.
Coordinates are CGCS2000 (EPSG:4490) or WGS84 longitude/latitude, or a projected
CGCS2000 Gauss-Krüger zone named by the file's CRS; everything is stored as
CGCS2000 longitude/latitude and areas are geodesic (GRS80 ellipsoid, which
CGCS2000 uses to within 0.1 mm).

Every rejected feature is named with its row and reason; an import is
all-or-nothing unless `skip_bad` is asked for.

Overlap tolerance: a parcel overlapping a parcel of *another* project is refused
unless the overlap is at most max(10 m², 0.5 % of the smaller parcel). Survey maps
of forest compartments are drawn at 1:10,000, where a line is good to a few
metres; a shared border digitised twice leaves slivers about a metre wide along
it, i.e. well under 0.5 % of a parcel of a few mu or more. Anything larger is a
real second claim to the same forest.

The rule is checked in one of two ways, with the same tolerance (`overlap_allowed`, whose
constants are also the bound parameters of the SQL): on PostgreSQL by one indexed PostGIS
query over the parcels' `geom` column (migration 0018: computed by the database from the
stored WKT, GiST-indexed; overlap areas on the GRS80 spheroid, as here); on SQLite by an
in-process shapely STRtree. Two imports racing cannot both register overlapping parcels:
on PostgreSQL each takes a transaction-scoped advisory lock on every 1° cell its parcels'
bounds cover (in key order, so no deadlock), then checks again under the lock before
writing; overlapping parcels share a cell, so the second waits for the first to commit
and then sees its parcels. SQLite writes one at a time (BEGIN IMMEDIATE), and the check
under the write is made there too.
"""

from __future__ import annotations

import csv
import io
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError
from shapely import STRtree, from_wkb, from_wkt, to_wkt
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from qinglu.core.errors import Conflict, InvalidInput, reading
from qinglu.core.files import json_content
from qinglu.core.geometry import crs_name
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.quantities import M2_PER_HA, MU_PER_HA
from qinglu.core.spreadsheets import decode_table_text, workbook_rows
from qinglu.db.engine import is_postgresql
from qinglu.forestry.errors import ImportRefused
from qinglu.forestry.models import Parcel
from qinglu.registry.actions import get_project

GEOD = Geod(ellps="GRS80")
CGCS2000 = CRS.from_epsg(4490)
TOLERANCE_M2 = 10.0
TOLERANCE_SHARE = 0.005
SRID = 4490  # CGCS2000 longitude/latitude (GRS80)
FIELD_ALIASES = {
    "number": ("number", "parcel", "小班号", "小班", "xbh"),
    "compartment": ("compartment", "林班号", "林班", "lbh"),
    "species": ("species", "树种", "优势树种", "sz"),
    "age": ("age", "林龄", "ll"),
    "volume": ("volume_per_mu", "volume", "每亩蓄积", "亩蓄积", "每亩蓄积量"),
    "owner": ("owner", "林权人", "权利人", "经营者"),
    "village": ("village", "村", "村名"),
}


class ParcelImportError(ImportRefused):
    """The file was refused; `problems` names each bad feature (row, reason)."""

    code = "parcel-import-refused"


class OverlapConflict(Conflict):
    code = "parcel-overlap"


@lru_cache(maxsize=1)
def species_names() -> dict[str, str]:
    """Every accepted spelling (lower case) -> the canonical Chinese species name."""
    names: dict[str, str] = {}
    with (Path(__file__).parent / "species.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for alias in [row["species_cn"], row["species_en"], *row["aliases"].split("|")]:
                if alias:
                    names[alias.strip().lower()] = row["species_cn"]
    return names


@dataclass
class Feature:
    row: str
    geometry: BaseGeometry | None
    properties: dict[str, Any]


@dataclass
class ParcelDraft:
    row: str
    number: str
    species: str
    age: int | None
    volume: float
    owner: str | None
    village: str | None
    geometry: BaseGeometry
    area_ha: float


@dataclass
class ImportReport:
    imported: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def overlap_allowed(overlap_m2: float, smaller_m2: float) -> bool:
    """The tolerance, once: an overlap of at most max(10 m², 0.5 % of the smaller parcel)."""
    return overlap_m2 <= max(TOLERANCE_M2, TOLERANCE_SHARE * smaller_m2)


def geodesic_area_ha(geometry: BaseGeometry) -> float:
    area_m2, _ = GEOD.geometry_area_perimeter(geometry)
    return abs(area_m2) / M2_PER_HA


def _pick(properties: dict[str, Any], key: str) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in properties.items()}
    for alias in FIELD_ALIASES[key]:
        value = lowered.get(alias.lower())
        if value not in (None, ""):
            return value
    return None


def read_geojson(path: Path) -> tuple[list[Feature], CRS]:
    return geojson_features(json_content(path.read_bytes(), path.name))


def geojson_features(data: object) -> tuple[list[Feature], CRS]:
    """A GeoJSON FeatureCollection (a file's or a request's) as features and their CRS.
    Anything else (a bare polygon, a list, a collection without a feature list) is
    refused as a whole; a feature that is not one is named as a bad row."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise InvalidInput("小班文件须为 GeoJSON FeatureCollection（每个小班一个 Feature）",
                           "a parcel file must be a GeoJSON FeatureCollection (one Feature "
                           "per parcel)")
    crs = _named_crs(data.get("crs"))
    features = []
    for n, item in enumerate(data["features"], 1):
        if not isinstance(item, dict):
            features.append(Feature(f"feature {n}", None,
                                    {"__error__": "不是 GeoJSON Feature not a GeoJSON Feature"}))
            continue
        given = item.get("properties")
        properties = dict(given) if isinstance(given, dict) else {}
        try:
            geometry = shape(item["geometry"]) if item.get("geometry") else None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError,
                ShapelyError) as exc:
            geometry = None
            properties["__error__"] = f"几何无法读取 unreadable geometry: {exc}"
        features.append(Feature(f"feature {n}", geometry, properties))
    return features, crs


def _named_crs(member: object) -> CRS:
    """The CRS a GeoJSON `crs` member names; CGCS2000 when there is none."""
    named = crs_name(member)
    try:
        return CRS.from_user_input(named) if named else CGCS2000
    except CRSError:
        raise InvalidInput(f"坐标系 {named!r} 无法识别", f"unknown CRS {named!r}") from None


def read_shapefile(path: Path, encoding: str | None = None) -> tuple[list[Feature], CRS]:
    """A shapefile through pyogrio; a .cpg file names the encoding, else GBK is tried."""
    from pyogrio.raw import read

    cpg = path.with_suffix(".cpg")
    encoding = encoding or (cpg.read_text().strip() if cpg.exists() else "GBK")
    meta, _fids, geometries, field_data = read(str(path), encoding=encoding)
    crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else CGCS2000
    names = list(meta["fields"])
    features = []
    for n, wkb in enumerate(geometries):
        properties = {name: _plain(field_data[i][n]) for i, name in enumerate(names)}
        try:
            geometry = from_wkb(wkb) if wkb is not None else None
        except ShapelyError as exc:  # e.g. a ring that does not close
            geometry = None
            properties["__error__"] = f"几何无法读取 unreadable geometry: {exc}"
        features.append(Feature(f"row {n + 1}", geometry, properties))
    return features, crs


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def read_attributes(path: Path) -> dict[str, dict[str, Any]]:
    """An attribute table (CSV or Excel) keyed by parcel number (林班-小班 or 小班)."""
    rows: list[dict[str, Any]]
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        values = workbook_rows(path)  # checked before unpacking
        header = [str(h).strip() for h in values[0]] if values else []
        rows = [dict(zip(header, row, strict=False)) for row in values[1:]]
    else:
        rows = list(csv.DictReader(io.StringIO(decode_table_text(path.read_bytes()),
                                               newline="")))
    table = {}
    for row in rows:
        key = _parcel_number(row)
        if key:
            table[key] = row
    return table


def _parcel_number(properties: dict[str, Any]) -> str | None:
    number = _pick(properties, "number")
    if number is None:
        return None
    compartment = _pick(properties, "compartment")
    return f"{compartment}-{number}" if compartment is not None else str(number)


def _to_cgcs2000(geometry: BaseGeometry, crs: CRS) -> BaseGeometry:
    if crs.is_geographic:
        return geometry
    move = Transformer.from_crs(crs, CGCS2000, always_xy=True).transform
    return shapely.transform(geometry, move, interleaved=False)


def validate(features: Iterable[Feature], crs: CRS,
             attributes: dict[str, dict[str, Any]] | None = None
             ) -> tuple[list[ParcelDraft], list[tuple[str, str]]]:
    drafts: list[ParcelDraft] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for feature in features:
        properties = dict(feature.properties)
        number = _parcel_number(properties)
        if attributes is not None and number is not None:
            properties = {**attributes.get(number, {}), **properties}
        where = f"{feature.row} ({number})" if number else feature.row
        try:
            drafts.append(_draft(feature, properties, number, crs, seen))
        except ValueError as exc:
            problems.append((where, str(exc)))
    return drafts, problems


# A forest parcel's boundary as surveyed has tens to a few thousand vertices; a million
# is an attack on the server's memory and time, not a survey.
MAX_VERTICES = 20_000


def _draft(feature: Feature, properties: dict[str, Any], number: str | None, crs: CRS,
           seen: set[str]) -> ParcelDraft:
    if "__error__" in properties:
        raise ValueError(properties["__error__"])
    if not number:
        raise ValueError("缺少小班号 missing parcel number")
    if number in seen:
        raise ValueError(f"小班号重复 duplicate parcel number {number}")
    seen.add(number)
    geometry = feature.geometry
    if geometry is None or geometry.is_empty:
        raise ValueError("几何为空 empty geometry")
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"须为面 must be a polygon, not {geometry.geom_type}")
    vertices = shapely.get_num_coordinates(geometry)
    if vertices > MAX_VERTICES:  # checked before validity, which costs per vertex
        raise ValueError(f"顶点过多 {vertices}（上限 {MAX_VERTICES}） too many vertices "
                         f"{vertices} (limit {MAX_VERTICES})")
    if not geometry.is_valid:
        raise ValueError(f"几何无效 invalid geometry: {explain_validity(geometry)}")
    geometry = _to_cgcs2000(geometry, crs)
    minx, miny, maxx, maxy = geometry.bounds
    if not (minx >= 73 and maxx <= 136 and miny >= 3 and maxy <= 54):
        raise ValueError("坐标不在中国范围内：坐标系错误？ coordinates are outside China: "
                         "wrong CRS (a projected file needs its CRS named)?")
    raw_species = _pick(properties, "species")
    if raw_species is None:
        raise ValueError("缺少树种 missing species")
    species = species_names().get(str(raw_species).strip().lower())
    if species is None:
        raise ValueError(f"未知树种 unknown species {raw_species!r}")
    volume = _pick(properties, "volume")
    if volume is None:
        raise ValueError("缺少每亩蓄积 missing stand volume per mu")
    try:
        volume_value = float(volume)
    except (TypeError, ValueError):
        raise ValueError(f"蓄积不是数字 volume {volume!r} is not a number") from None
    if not 0 <= volume_value <= 100:  # m3 per mu; ~1,500 m3/ha is beyond any stand
        raise ValueError(f"每亩蓄积超出范围 volume per mu {volume_value} out of range")
    age = _pick(properties, "age")
    owner, village = _pick(properties, "owner"), _pick(properties, "village")
    return ParcelDraft(
        row=feature.row, number=number, species=species,
        age=int(float(age)) if age is not None else None, volume=volume_value,
        owner=str(owner) if owner is not None else None,
        village=str(village) if village is not None else None,
        geometry=geometry, area_ha=geodesic_area_ha(geometry))


class ParcelIndex:
    """An in-process STRtree over registered parcels, refreshed when new ones appear.

    Keyed by database, so one server process checks against every parcel without
    reading them all for each import.
    """

    _lock = threading.Lock()
    _cache: dict[str, ParcelIndex] = {}

    def __init__(self) -> None:
        self.max_id = 0
        self.geometries: list[BaseGeometry] = []
        self.ids: list[int] = []
        self.projects: list[int] = []
        self.numbers: list[str] = []
        self.tree: STRtree | None = None
        # numpy mirrors for the vectorised check
        self._geoms = np.empty(0, dtype=object)
        self._projects = np.empty(0, dtype=np.int64)
        self._areas = np.empty(0)  # planar, degrees²

    @classmethod
    def for_session(cls, session: Session) -> ParcelIndex:
        bind = session.get_bind()
        key = str(bind.engine.url)
        with cls._lock:
            index = cls._cache.setdefault(key, ParcelIndex())
            index.refresh(session)
            return index

    def refresh(self, session: Session) -> None:
        latest = session.scalar(select(func.max(Parcel.id))) or 0
        if latest < self.max_id:  # the database was reset (tests): start over
            self.__init__()  # type: ignore[misc]
        if latest == self.max_id:
            return
        rows = session.execute(
            select(Parcel.id, Parcel.project_id, Parcel.number, Parcel.geometry_wkt)
            .where(Parcel.id > self.max_id).order_by(Parcel.id)
        ).all()
        for parcel_id, project_id, number, wkt in rows:
            self.ids.append(parcel_id)
            self.projects.append(project_id)
            self.numbers.append(number)
            self.geometries.append(from_wkt(wkt))
        self.max_id = latest
        self._geoms = np.array(self.geometries, dtype=object)
        self._projects = np.array(self.projects, dtype=np.int64)
        self._areas = shapely.area(self._geoms)
        self.tree = STRtree(self._geoms) if self.geometries else None

    def conflicts(self, geometry: BaseGeometry, project_id: int) -> list[dict[str, Any]]:
        """Parcels of other projects that this geometry overlaps beyond the tolerance."""
        return self.conflicts_many([geometry], project_id)[0]

    def conflicts_many(self, geometries: Sequence[BaseGeometry],
                       project_id: int) -> list[list[dict[str, Any]]]:
        """For each geometry, the parcels of other projects it overlaps beyond the tolerance.

        One vectorised pass for the whole set (an import is all-or-nothing, so it is
        checked at once): one bulk tree query, then, over the candidate pairs only,
        touching borders dropped (they cost nothing more) and every remaining overlap
        computed at once in planar degrees², turned into m² with the ellipsoid's local
        scale at each geometry's latitude (for parcels a few hundred metres across this is
        the geodesic area to about 1e-6). A pair within 2 % of the tolerance is decided
        with the exact geodesic areas.
        """
        found: list[list[dict[str, Any]]] = [[] for _ in geometries]
        if self.tree is None or not len(geometries):
            return found
        probes = np.empty(len(geometries), dtype=object)
        probes[:] = list(geometries)
        pairs = self.tree.query(probes, predicate="intersects")
        if pairs.shape[1] == 0:
            return found
        keep = self._projects[pairs[1]] != project_id
        pairs = pairs[:, keep]
        if pairs.shape[1] == 0:
            return found
        # Neighbours that only share a border need no overlay (the costly part).
        pairs = pairs[:, ~shapely.touches(probes[pairs[0]], self._geoms[pairs[1]])]
        if pairs.shape[1] == 0:
            return found
        overlap = shapely.area(shapely.intersection(probes[pairs[0]], self._geoms[pairs[1]]))
        scale = m2_per_degree2_many(shapely.bounds(probes))[pairs[0]]
        overlap_m2 = overlap * scale
        smaller_m2 = np.minimum(shapely.area(probes)[pairs[0]], self._areas[pairs[1]]) * scale
        limit = np.maximum(TOLERANCE_M2, TOLERANCE_SHARE * smaller_m2)
        for k in np.flatnonzero(overlap_m2 > 0.98 * limit):
            n, i = int(pairs[0, k]), int(pairs[1, k])
            area_m2 = float(overlap_m2[k])
            if area_m2 <= 1.02 * limit[k]:  # near the line: decide exactly
                geometry, other = probes[n], self.geometries[i]
                area_m2 = geodesic_area_ha(geometry.intersection(other)) * M2_PER_HA
                smaller = min(geodesic_area_ha(geometry), geodesic_area_ha(other)) * M2_PER_HA
                if overlap_allowed(area_m2, smaller):
                    continue
            found[n].append({"parcel_id": self.ids[i], "project_id": self.projects[i],
                             "number": self.numbers[i], "overlap_m2": round(area_m2, 1)})
        return found


def m2_per_degree2(geometry: BaseGeometry) -> float:
    """m² per square degree of longitude × latitude on GRS80 at the geometry's centre."""
    a, f = 6_378_137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    lat = math.radians((geometry.bounds[1] + geometry.bounds[3]) / 2)
    w = 1 - e2 * math.sin(lat) ** 2
    meridian = a * (1 - e2) / w**1.5
    normal = a / math.sqrt(w)
    return meridian * normal * math.cos(lat) * (math.pi / 180) ** 2


def m2_per_degree2_many(bounds: np.ndarray) -> np.ndarray:
    """m2_per_degree2 for an (n, 4) array of bounds, element-wise."""
    a, f = 6_378_137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    lat = np.radians((bounds[:, 1] + bounds[:, 3]) / 2)
    w = 1 - e2 * np.sin(lat) ** 2
    meridian = a * (1 - e2) / w**1.5
    normal = a / np.sqrt(w)
    result: np.ndarray = meridian * normal * np.cos(lat) * (math.pi / 180) ** 2
    return result


# The rule as one query: candidates through the GiST index (ST_Intersects), the overlap's
# area on the spheroid (geography, GRS80 for SRID 4490, as pyproj's here), and the same
# tolerance, bound from TOLERANCE_M2 and TOLERANCE_SHARE. A shared border's intersection
# is a line, of area 0. The probes' areas are their geodesic areas computed in Python, as
# the registered parcels' `area_ha` were.
POSTGIS_CONFLICTS = text("""
WITH probe AS (
    SELECT t.n, ST_GeomFromText(t.wkt, :srid) AS g, t.area_m2
      FROM unnest(CAST(:wkts AS text[]), CAST(:areas AS float8[]))
           WITH ORDINALITY AS t(wkt, area_m2, n)
), hit AS (
    SELECT probe.n, p.id, p.project_id, p.number,
           LEAST(probe.area_m2, p.area_ha * :m2_per_ha) AS smaller_m2,
           ST_Area(geography(ST_Intersection(p.geom, probe.g))) AS overlap_m2
      FROM probe JOIN parcels p ON ST_Intersects(p.geom, probe.g)
     WHERE p.project_id <> :project_id
)
SELECT n, id, project_id, number, overlap_m2 FROM hit
 WHERE overlap_m2 > GREATEST(:tolerance_m2, :tolerance_share * smaller_m2)
 ORDER BY n, id
""")


def postgis_conflicts(session: Session, geometries: Sequence[BaseGeometry],
                      areas_m2: Sequence[float], project_id: int) -> list[list[dict[str, Any]]]:
    """For each geometry, the parcels of other projects it overlaps beyond the tolerance:
    one indexed PostGIS query for the whole set (the PostgreSQL path of `conflicts_many`)."""
    found: list[list[dict[str, Any]]] = [[] for _ in geometries]
    if not geometries:
        return found
    rows = session.execute(POSTGIS_CONFLICTS, {
        "srid": SRID, "wkts": [to_wkt(g, rounding_precision=8) for g in geometries],
        "areas": list(areas_m2), "project_id": project_id, "m2_per_ha": M2_PER_HA,
        "tolerance_m2": TOLERANCE_M2, "tolerance_share": TOLERANCE_SHARE})
    for n, parcel_id, other_project, number, overlap_m2 in rows:
        found[n - 1].append({"parcel_id": parcel_id, "project_id": other_project,
                             "number": number, "overlap_m2": round(float(overlap_m2), 1)})
    return found


def find_conflicts(session: Session, drafts: Sequence[ParcelDraft],
                   project_id: int) -> list[list[dict[str, Any]]]:
    """Each draft's conflicts with registered parcels: PostGIS on PostgreSQL, else shapely."""
    if is_postgresql(session):
        return postgis_conflicts(session, [d.geometry for d in drafts],
                                 [d.area_ha * M2_PER_HA for d in drafts], project_id)
    return ParcelIndex.for_session(session).conflicts_many([d.geometry for d in drafts],
                                                            project_id)


# Advisory lock keys: (this class, a 1° cell). Parcels are a few hundred metres across,
# so an import covers a few cells; imports in other cells never wait for it.
REGION_LOCK_CLASS = 0x70617263  # "parc"
REGION_DEGREES = 1


def region_keys(geometries: Iterable[BaseGeometry]) -> list[int]:
    """The 1° cells the geometries' bounds cover, as lock keys, in ascending order."""
    keys: set[int] = set()
    for geometry in geometries:
        minx, miny, maxx, maxy = geometry.bounds
        for x in range(math.floor(minx / REGION_DEGREES), math.floor(maxx / REGION_DEGREES) + 1):
            for y in range(math.floor(miny / REGION_DEGREES),
                           math.floor(maxy / REGION_DEGREES) + 1):
                keys.add((x + 360) * 1000 + (y + 180))
    return sorted(keys)


def lock_regions(session: Session, geometries: Iterable[BaseGeometry]) -> None:
    """Serialise imports whose parcels could overlap (PostgreSQL; held to commit)."""
    session.execute(text(
        "SELECT count(pg_advisory_xact_lock(:class, k)) FROM "
        "(SELECT k FROM unnest(CAST(:keys AS int[])) AS k ORDER BY k) AS cells"),
        {"class": REGION_LOCK_CLASS, "keys": region_keys(geometries)})


def _conflict_problems(drafts: Sequence[ParcelDraft],
                       found: list[list[dict[str, Any]]]) -> list[tuple[str, str]]:
    return [(draft.row, (
        f"与项目 {conflict['project_id']} 的小班 {conflict['number']} 重叠 "
        f"{conflict['overlap_m2']} m² / overlaps parcel {conflict['number']} of "
        f"project {conflict['project_id']} by {conflict['overlap_m2']} m²"))
        for draft, conflicts in zip(drafts, found, strict=True) for conflict in conflicts]


def _overlap_refusal(problems: list[tuple[str, str]]) -> OverlapConflict:
    error = ParcelImportError(problems)
    return OverlapConflict(error.zh, error.en)


def _check_under_lock(session: Session, drafts: Sequence[ParcelDraft], project_id: int) -> None:
    """Inside the write: no parcel registered since the first check overlaps these."""
    if is_postgresql(session):
        lock_regions(session, [d.geometry for d in drafts])
    late = _conflict_problems(drafts, find_conflicts(session, drafts, project_id))
    if late:
        raise _overlap_refusal(late)


def _overlaps_within(drafts: list[ParcelDraft]) -> list[tuple[str, str]]:
    """Parcels of the same file that overlap each other beyond the tolerance."""
    problems = []
    tree = STRtree([d.geometry for d in drafts])
    for i, draft in enumerate(drafts):
        for j in tree.query(draft.geometry, predicate="intersects"):
            if j <= i:
                continue
            other = drafts[int(j)]
            overlap_m2 = geodesic_area_ha(draft.geometry.intersection(other.geometry)) * M2_PER_HA
            smaller = min(draft.area_ha, other.area_ha) * M2_PER_HA
            if not overlap_allowed(overlap_m2, smaller):
                problems.append((draft.row, f"与同一文件的 {other.number} 重叠 overlaps "
                                            f"{other.number} in the same file by "
                                            f"{overlap_m2:.1f} m²"))
    return problems


def register(session: Session, *, project_id: int, drafts: list[ParcelDraft],
             problems: list[tuple[str, str]], actor: str, skip_bad: bool = False,
             idempotency_key: str | None = None) -> ImportReport:
    """Check overlaps and write the parcels in one ledger write (all or nothing)."""
    get_project(session, project_id)
    if not drafts and not problems:  # an empty file registers nothing: say so, write nothing
        raise ParcelImportError([("file", "文件中没有小班 the file holds no parcels")])
    problems = [*problems, *_overlaps_within(drafts)] if drafts else list(problems)
    problems += _conflict_problems(drafts, find_conflicts(session, drafts, project_id))
    bad_rows = {row for row, _ in problems}
    if problems and not skip_bad:
        if any("overlap" in reason for _, reason in problems):
            raise _overlap_refusal(problems)
        raise ParcelImportError(problems)
    keep = [d for d in drafts if d.row not in bad_rows]
    existing = set(session.scalars(select(Parcel.number).where(
        Parcel.project_id == project_id)))
    duplicates = [(d.row, f"小班 {d.number} 已登记 already registered") for d in keep
                  if d.number in existing]
    if duplicates and not skip_bad:
        raise ParcelImportError(duplicates)
    keep = [d for d in keep if d.number not in existing]
    request = {"project_id": project_id, "parcels": [d.number for d in keep]}

    def action(ctx: WriteContext) -> dict[str, Any]:
        if keep:  # a concurrent import may have registered overlapping parcels meanwhile
            _check_under_lock(ctx.session, keep, project_id)
        rows = [_row(project_id, d) for d in keep]
        ctx.session.add_all(rows)
        ctx.session.flush()
        return {"project_id": project_id,
                "parcels": [{"id": r.id, "number": r.number, "area_ha": round(r.area_ha, 4),
                             "area_mu": round(r.area_ha * MU_PER_HA, 2)} for r in rows]}

    result = run_write(session, kind="parcel.import", actor=actor, request=request,
                       action=action, idempotency_key=idempotency_key)
    return ImportReport(imported=result["parcels"], skipped=[*problems, *duplicates])


def _row(project_id: int, draft: ParcelDraft) -> Parcel:
    minx, miny, maxx, maxy = draft.geometry.bounds
    return Parcel(project_id=project_id, number=draft.number, owner=draft.owner,
                  village=draft.village, species=draft.species, age=draft.age,
                  area_ha=draft.area_ha, volume_m3_per_mu=draft.volume,
                  geometry_wkt=to_wkt(draft.geometry, rounding_precision=8),
                  minx=minx, miny=miny, maxx=maxx, maxy=maxy)


def import_file(session: Session, *, project_id: int, path: Path, actor: str,
                attributes: Path | None = None, skip_bad: bool = False,
                encoding: str | None = None) -> ImportReport:
    """`qinglu parcel import`: read, validate, check overlaps, register."""
    with reading(path.name, ParcelImportError):
        if path.suffix.lower() == ".shp":
            features, crs = read_shapefile(path, encoding)
        elif path.suffix.lower() in (".geojson", ".json"):
            features, crs = read_geojson(path)
        else:
            raise InvalidInput(f"不支持的文件类型 {path.suffix}",
                               f"unsupported file type {path.suffix} (GeoJSON or Shapefile)")
    table: dict[str, dict[str, Any]] | None = None
    if attributes:
        with reading(attributes.name, ParcelImportError):
            table = read_attributes(attributes)
    drafts, problems = validate(features, crs, table)
    return register(session, project_id=project_id, drafts=drafts, problems=problems,
                    actor=actor, skip_bad=skip_bad)
