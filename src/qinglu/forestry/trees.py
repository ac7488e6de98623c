"""Single-tree carbon sinks (单株碳汇): registering trees and issuing tree-years.

A project registers individual trees (a point in CGCS2000 or WGS84 lon/lat, species,
DBH, height, photo reference, the owner household). A file or request is checked
whole: every bad row is named with its reason and nothing is written unless every
row is good (as parcel imports).

A tree-year is one tree's sink over one calendar year, computed by the allometric
method (`qinglu.methods.trees`) from its stored measurement to a new one (or the
stored one plus a stated annual increment) and issued once, in hundredths of a tCO2e
rounded down, to the household's holding account: one issuance per tree, so that
buyers buy a named tree-year. The buffer part of each tree's units (floor(units ×
share), as monitoring.split_buffer) goes to the registry buffer in one issuance for
the batch; everything is one ledger write. The tree's stored measurement then moves
to the new one.
"""

from __future__ import annotations

import csv
import math
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import Conflict, InvalidInput, UnknownHolder, reading
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.quantities import format_quantity
from qinglu.core.spreadsheets import decode_table_text, workbook_rows
from qinglu.forestry.errors import ImportRefused
from qinglu.forestry.models import Tree, TreeYear
from qinglu.forestry.monitoring import owner_account, split_buffer
from qinglu.forestry.parcels import species_names
from qinglu.methods import forest
from qinglu.methods import trees as method
from qinglu.registry import actions as registry
from qinglu.registry.actions import (
    accounts_of,
    get_holder,
    get_project,
    holder_by_id_number,
    system_account,
)

# China's extent in lon/lat; anything outside is refused (e.g. projected metres).
LON_RANGE, LAT_RANGE = (73.0, 136.0), (3.0, 54.0)
LONLAT_CRS = {"", "EPSG:4490", "EPSG:4326", "CGCS2000", "WGS84"}
FIELD_ALIASES = {
    "number": ("number", "tree", "树号", "编号", "单株编号"),
    "species": ("species", "树种"),
    "lon": ("lon", "longitude", "经度", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
    "crs": ("crs", "坐标系"),
    "dbh_cm": ("dbh_cm", "dbh", "胸径", "胸径cm"),
    "height_m": ("height_m", "height", "树高", "树高m"),
    "photo_ref": ("photo_ref", "photo", "照片", "照片编号"),
    "owner_id_number": ("owner_id_number", "户主身份证号", "身份证号"),
    "owner_holder_id": ("owner_holder_id", "holder_id"),
    "year": ("year", "measured_year", "测量年度"),
}


class TreeImportError(ImportRefused):
    """The rows were refused; `problems` names each bad row and its reason."""

    code = "tree-import-refused"


def _pick(row: dict[str, Any], key: str) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for alias in FIELD_ALIASES[key]:
        value = lowered.get(alias.lower())
        if value is not None and str(value).strip() != "":
            return value
    return None


def _number(value: Any, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} 不是数字 is not a number: {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name} 须在 [{low}, {high}] must be in [{low}, {high}]: {value!r}")
    return number


@dataclass
class TreeDraft:
    row: str
    number: str
    species: str
    lon: float
    lat: float
    dbh_cm: float
    height_m: float
    photo_ref: str | None
    owner_holder_id: int
    owner_name: str
    measured_year: int | None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A CSV (UTF-8 or GBK) or Excel table of trees, one a row."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        values = workbook_rows(path)  # checked before unpacking
        header = [str(h).strip() for h in values[0]] if values else []
        return [dict(zip(header, row, strict=False)) for row in values[1:]]
    if path.suffix.lower() != ".csv":
        raise InvalidInput(f"不支持的文件类型 {path.suffix}",
                           f"unsupported file type {path.suffix} (CSV or Excel)")
    return list(csv.DictReader(decode_table_text(path.read_bytes()).splitlines()))


def _owner(session: Session, row: dict[str, Any], cache: dict[str, tuple[int, str]]
           ) -> tuple[int, str]:
    holder_id, id_number = _pick(row, "owner_holder_id"), _pick(row, "owner_id_number")
    key = f"id:{holder_id}" if holder_id is not None else f"no:{id_number}"
    if key in cache:
        return cache[key]
    holder = None
    if holder_id is not None:
        try:
            holder = get_holder(session, int(holder_id))
        except (TypeError, ValueError, UnknownHolder):
            holder = None
    elif id_number is not None:
        holder = holder_by_id_number(session, str(id_number))
    else:
        raise ValueError("缺少户主 missing owner household (owner_id_number or owner_holder_id)")
    if holder is None:
        raise ValueError("户主未登记 owner household is not a registered holder")
    if not accounts_of(session, holder.id, "holding"):
        raise ValueError("户主没有持有账户 owner household has no holding account")
    cache[key] = (holder.id, holder.name)
    return cache[key]


def validate(session: Session, rows: list[dict[str, Any]], *, project_id: int,
             on: date | None = None) -> tuple[list[TreeDraft], list[tuple[str, str]]]:
    """Check every row; return the good drafts and (row, reason) for each bad one."""
    on = on or date.today()
    names = species_names()
    modelled = method.known_species(on)
    existing = set(session.scalars(select(Tree.number).where(Tree.project_id == project_id)))
    drafts: list[TreeDraft] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    owners: dict[str, tuple[int, str]] = {}
    for n, row in enumerate(rows, 1):
        where = f"row {n}"
        reasons: list[str] = []
        number = _pick(row, "number")
        number = str(number).strip() if number is not None else ""
        if number:
            where = f"row {n} ({number})"
        if not number:
            reasons.append("缺少树号 missing tree number")
        elif number in seen:
            reasons.append("文件内树号重复 number repeated in the file")
        elif number in existing:
            reasons.append("树号已登记 tree already registered in this project")
        seen.add(number)
        raw_species = _pick(row, "species")
        species = names.get(str(raw_species).strip().lower()) if raw_species else None
        if raw_species is None:
            reasons.append("缺少树种 missing species")
        elif species is None or species not in modelled:
            reasons.append(f"树种无生物量模型 unknown species {raw_species!r}")
        crs = str(_pick(row, "crs") or "").strip().upper()
        if crs not in LONLAT_CRS:
            reasons.append(f"坐标系须为 CGCS2000/WGS84 经纬度 CRS must be lon/lat "
                           f"(EPSG:4490 or 4326): {crs}")
        values: dict[str, float] = {}
        for key, label, low, high in (
                ("lon", "经度 lon", *LON_RANGE), ("lat", "纬度 lat", *LAT_RANGE),
                ("dbh_cm", "胸径 dbh_cm", *method.DBH_RANGE),
                ("height_m", "树高 height_m", *method.HEIGHT_RANGE)):
            value = _pick(row, key)
            if value is None:
                reasons.append(f"缺少 missing {label}")
                continue
            try:
                values[key] = _number(value, label, low, high)
            except ValueError as exc:
                reasons.append(str(exc))
        year_value = _pick(row, "year")
        year = None
        if year_value is not None:
            try:
                year = int(_number(year_value, "年度 year", 1950, 2100))
            except ValueError as exc:
                reasons.append(str(exc))
        try:
            owner_id, owner_name = _owner(session, row, owners)
        except ValueError as exc:
            reasons.append(str(exc))
        if reasons:
            problems.extend((where, reason) for reason in reasons)
            continue
        photo = _pick(row, "photo_ref")
        drafts.append(TreeDraft(where, number, str(species), values["lon"], values["lat"],
                                values["dbh_cm"], values["height_m"],
                                str(photo).strip()[:500] if photo is not None else None,
                                owner_id, owner_name, year))
    if not rows:
        problems.append(("file", "没有树木 no trees"))
    return drafts, problems


def tree_view(tree: Tree) -> dict[str, Any]:
    return {"id": tree.id, "project_id": tree.project_id, "number": tree.number,
            "species": tree.species, "lon": tree.lon, "lat": tree.lat,
            "dbh_cm": tree.dbh_cm, "height_m": tree.height_m, "photo_ref": tree.photo_ref,
            "owner_holder_id": tree.owner_holder_id, "measured_year": tree.measured_year}


def register(session: Session, *, project_id: int, rows: list[dict[str, Any]], actor: str,
             idempotency_key: str | None = None) -> dict[str, Any]:
    """Register trees to a project: all rows or none."""
    project = get_project(session, project_id)
    if project.product != "FCS":
        raise InvalidInput("仅林业碳汇项目可登记单株", "only forestry (FCS) projects have trees")
    drafts, problems = validate(session, rows, project_id=project_id)
    if problems:
        raise TreeImportError(problems)
    request = {"project_id": project_id, "trees": [d.number for d in drafts]}

    def action(ctx: WriteContext) -> dict[str, Any]:
        stored = [Tree(project_id=project_id, number=d.number, species=d.species, lon=d.lon,
                       lat=d.lat, dbh_cm=d.dbh_cm, height_m=d.height_m, photo_ref=d.photo_ref,
                       owner=d.owner_name, owner_holder_id=d.owner_holder_id,
                       measured_year=d.measured_year) for d in drafts]
        ctx.session.add_all(stored)
        ctx.session.flush()
        return {"project_id": project_id, "trees": [tree_view(t) for t in stored]}

    return run_write(session, kind="tree.import", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def import_file(session: Session, *, project_id: int, path: Path, actor: str) -> dict[str, Any]:
    with reading(path.name, TreeImportError):
        rows = read_rows(path)
    return register(session, project_id=project_id, rows=rows, actor=actor)


def list_trees(session: Session, project_id: int) -> list[Tree]:
    get_project(session, project_id)
    return list(session.scalars(select(Tree).where(Tree.project_id == project_id)
                                .order_by(Tree.id)))


def _growth(trees: dict[str, Tree], measurements: list[dict[str, Any]]
            ) -> list[method.TreeGrowth]:
    """Each measured tree's start (stored) and end (re-measured, or start + increment)."""
    problems: list[tuple[str, str]] = []
    growth: list[method.TreeGrowth] = []
    seen: set[str] = set()
    for n, row in enumerate(measurements, 1):
        number = str(row.get("number", "")).strip()
        where = f"row {n} ({number or '?'})"
        tree = trees.get(number)
        if tree is None:
            problems.append((where, "不是本项目的树 not a tree of this project"))
            continue
        if number in seen:
            problems.append((where, "重复 measured twice"))
            continue
        seen.add(number)
        try:
            if row.get("dbh_cm") is not None or row.get("height_m") is not None:
                dbh, height = float(row["dbh_cm"]), float(row["height_m"])
            else:
                dbh = tree.dbh_cm + float(row["dbh_increment_cm"])
                height = tree.height_m + float(row["height_increment_m"])
        except (KeyError, TypeError, ValueError):
            problems.append((where, "须给出新测胸径和树高，或年增量 give dbh_cm and height_m, "
                                    "or dbh_increment_cm and height_increment_m"))
            continue
        growth.append(method.TreeGrowth(number, tree.species, tree.dbh_cm, tree.height_m,
                                        dbh, height))
    if problems:
        raise TreeImportError(problems)
    if not growth:
        raise InvalidInput("没有测量数据", "no measurements")
    return growth


def _compute(growth: list[method.TreeGrowth], year: int,
             override_csv: str | None) -> dict[str, Any]:
    if override_csv is None:
        return method.annual_sink(growth, year=year)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "override.csv"
        path.write_text(override_csv, encoding="utf-8")
        return method.annual_sink(growth, year=year, override=path)


def compute_sinks(session: Session, *, project_id: int, year: int,
                  measurements: list[dict[str, Any]],
                  override_csv: str | None = None) -> dict[str, Any]:
    """The tree-years' sinks, without issuing anything (pure reads)."""
    trees = {t.number: t for t in list_trees(session, project_id)}
    return _compute(_growth(trees, measurements), year, override_csv)


def issue_year(session: Session, *, project_id: int, year: int,
               measurements: list[dict[str, Any]], risk_class: str, actor: str,
               override_csv: str | None = None,
               idempotency_key: str | None = None) -> dict[str, Any]:
    """Issue each measured tree's sink for `year` to its household, buffer share apart."""
    forest.buffer_share(risk_class, date.today())  # refuse an unknown class up front
    request = {"project_id": project_id, "year": year, "measurements": measurements,
               "risk_class": risk_class, "override_csv": override_csv}

    def action(ctx: WriteContext) -> dict[str, Any]:
        project = get_project(ctx.session, project_id)
        trees = {t.number: t for t in ctx.session.scalars(
            select(Tree).where(Tree.project_id == project_id).with_for_update())}
        growth = _growth(trees, measurements)
        done = set(ctx.session.scalars(select(TreeYear.tree_id).where(
            TreeYear.year == year,
            TreeYear.tree_id.in_([trees[g.number].id for g in growth]))))
        if done:
            numbers = sorted(t.number for t in trees.values() if t.id in done)
            raise Conflict(f"{year} 年已签发：{', '.join(numbers)}",
                           f"tree-years of {year} already issued: {', '.join(numbers)}")
        late = sorted(t.number for t in trees.values()
                      if t.measured_year is not None and t.measured_year >= year
                      and t.number in {g.number for g in growth})
        if late:
            raise InvalidInput(f"测量年度不早于 {year}：{', '.join(late)}",
                               f"measured in or after {year} already: {', '.join(late)}")
        result = _compute(growth, year, override_csv)
        share = forest.buffer_share(risk_class, date.today())
        buffer_account = system_account(ctx.session, "buffer")
        accounts: dict[int, int] = {}
        issued = []
        rows: list[TreeYear] = []
        buffer_total = 0
        for g, computed in zip(growth, result["trees"], strict=True):
            tree = trees[g.number]
            owner_units, buffer_units = split_buffer(int(computed["units"]), share.value)
            owner_issuance = None
            if owner_units:
                key = tree.owner_holder_id or 0
                if key not in accounts:
                    accounts[key] = owner_account(ctx.session, tree.owner_holder_id)
                owner_issuance = registry.issue_in(
                    ctx, project_id=project.id, vintage=year, quantity=owner_units,
                    to_account=accounts[key])
                issued.append({"tree": tree.number, **owner_issuance})
            buffer_total += buffer_units
            rows.append(TreeYear(
                tree_id=tree.id, year=year, dbh_start=g.dbh_start,
                height_start=g.height_start, dbh_end=g.dbh_end, height_end=g.height_end,
                sink_units=int(computed["units"]), owner_units=owner_units,
                buffer_units=buffer_units,
                owner_issuance_id=int(owner_issuance["id"]) if owner_issuance else None,
                result={"tree": computed, "method": result["method"],
                        "parameters": [p for p in result["parameters"]
                                       if p["name"].endswith(f"[{g.species}]")]}))
            tree.dbh_cm, tree.height_m, tree.measured_year = g.dbh_end, g.height_end, year
        buffer_issuance = None
        if buffer_total:
            buffer_issuance = registry.issue_in(ctx, project_id=project.id, vintage=year,
                                             quantity=buffer_total,
                                             to_account=buffer_account.id)
            for row in rows:
                if row.buffer_units:
                    row.buffer_issuance_id = int(buffer_issuance["id"])
        ctx.session.add_all(rows)
        ctx.session.flush()
        ctx.records["tree_years"] = {"owner": issued, "buffer": buffer_issuance,
                                     "buffer_share": share.as_dict("buffer_share")}
        return {"project_id": project.id, "year": year,
                "tree_years": [tree_year_view(r, trees) for r in rows],
                "quantity": format_quantity("FCS", sum(r.sink_units for r in rows)),
                "buffer_quantity": format_quantity("FCS", buffer_total), "unit": "tCO2e",
                "buffer_issuance_id": int(buffer_issuance["id"]) if buffer_issuance else None}

    return run_write(session, kind="tree.issue_year", actor=actor, request=request,
                     action=action, idempotency_key=idempotency_key)


def tree_year_view(row: TreeYear, trees: dict[str, Tree] | None = None) -> dict[str, Any]:
    number = next((n for n, t in (trees or {}).items() if t.id == row.tree_id), None)
    return {"id": row.id, "tree_id": row.tree_id, "number": number, "year": row.year,
            "dbh_start": row.dbh_start, "height_start": row.height_start,
            "dbh_end": row.dbh_end, "height_end": row.height_end,
            "sink_t": row.result["tree"]["sink_t"], "units": row.sink_units,
            "owner_units": row.owner_units, "buffer_units": row.buffer_units,
            "owner_issuance_id": row.owner_issuance_id,
            "buffer_issuance_id": row.buffer_issuance_id}
