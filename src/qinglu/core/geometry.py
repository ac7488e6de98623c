"""A burned-area polygon as people hand it in: GeoJSON in longitude/latitude.

One reader for every door that takes a burned area (the fire method, a case's
accounting, a reversal over registered parcels), so that each accepts and refuses the
same things. Accepted: a Polygon or MultiPolygon, a Feature holding one, or a
FeatureCollection of one or more such features, whose union is the area (a fire often
leaves several patches, drawn as several features). Refused, naming what was
expected: anything that is not a GeoJSON object, an empty collection, a feature
without a geometry, points and lines, a broken or invalid ring, and a `crs` member
naming a system that is not longitude/latitude (a projected survey grid is metres,
not degrees; the file must be converted first).
"""

from __future__ import annotations

from typing import Any

import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from qinglu.core.errors import InvalidInput

POLYGON_TYPES = ("Polygon", "MultiPolygon")
EXPECTED_ZH = "GeoJSON 面（Polygon、MultiPolygon，或由其组成的 Feature、FeatureCollection）"
EXPECTED_EN = ("a GeoJSON polygon (a Polygon or MultiPolygon, or a Feature or "
               "FeatureCollection of them)")
JSON_KINDS = {list: ("数组", "an array"), str: ("字符串", "a string"),
              bool: ("布尔值", "a boolean"), int: ("数字", "a number"),
              float: ("数字", "a number"), type(None): ("null", "null")}


class GeometryRefused(InvalidInput):
    code = "invalid-geometry"


def _refuse(what: tuple[str, str], zh: str, en: str) -> GeometryRefused:
    return GeometryRefused(f"{what[0]}{zh}", f"{what[1]} {en}")


def burned_area(data: object, what: tuple[str, str] = ("过火范围", "the burned area")
                ) -> BaseGeometry:
    """The polygon (or union of polygons) of a GeoJSON object, checked; `what` names it
    in refusals, in Chinese and in English."""
    if not isinstance(data, dict):
        zh, en = JSON_KINDS.get(type(data), ("其他值", "another value"))
        raise _refuse(what, f"须为 {EXPECTED_ZH}，而不是{zh}",
                      f"must be {EXPECTED_EN}, not {en}")
    _check_crs(data, what)
    kind = data.get("type")
    if kind == "FeatureCollection":
        return _collection(data, what)
    if kind == "Feature":
        return _polygon(_feature_geometry(data, what, ("", "")), what, ("", ""))
    return _polygon(data, what, ("", ""))


def crs_name(member: object) -> str | None:
    """The name a GeoJSON `crs` member gives (`{"properties": {"name": ...}}`, GeoJSON 2008;
    RFC 7946 dropped it, files still carry it), or None when it names none."""
    properties = member.get("properties") if isinstance(member, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    return name if isinstance(name, str) else None


def _check_crs(data: dict[str, Any], what: tuple[str, str]) -> None:
    """A named `crs` must be longitude/latitude: WGS84 and CGCS2000 differ by
    centimetres, a projection does not."""
    crs = data.get("crs")
    if crs is None:
        return
    name = crs_name(crs)
    if name is None or not name.strip():
        raise _refuse(what, "的坐标系（crs）无法识别", "names its CRS in a form not understood")
    try:
        geographic = CRS.from_user_input(name).is_geographic
    except CRSError:
        raise _refuse(what, f"的坐标系 {name!r} 无法识别",
                      f"names an unknown CRS {name!r}") from None
    if not geographic:
        raise _refuse(what, f"的坐标系 {name} 不是经纬度；请先转换为 WGS84 或 CGCS2000 经纬度",
                      f"is in {name}, not longitude/latitude; convert it to WGS84 or "
                      "CGCS2000 lon/lat first")


def _collection(data: dict[str, Any], what: tuple[str, str]) -> BaseGeometry:
    features = data.get("features")
    if not isinstance(features, list):
        raise _refuse(what, "的 FeatureCollection 缺少要素列表（features）",
                      "is a FeatureCollection without a list of features")
    if not features:
        raise _refuse(what, "的 FeatureCollection 是空的；须含至少一个面",
                      "is an empty FeatureCollection; it needs at least one polygon")
    parts = []
    for n, feature in enumerate(features, 1):
        where = (f"第 {n} 个要素", f"feature {n}")
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise _refuse(what, f"的{where[0]}不是 GeoJSON Feature",
                          f"has {where[1]}, which is not a GeoJSON Feature")
        parts.append(_polygon(_feature_geometry(feature, what, where), what, where))
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _feature_geometry(feature: dict[str, Any], what: tuple[str, str],
                      where: tuple[str, str]) -> Any:
    geometry = feature.get("geometry")
    if not geometry:
        raise _refuse(what, f"的{where[0] or '要素'}没有几何（geometry）",
                      f"has {where[1] or 'a feature'} without a geometry")
    return geometry


def _polygon(geometry: Any, what: tuple[str, str], where: tuple[str, str]) -> BaseGeometry:
    at_zh = f"的{where[0]}" if where[0] else ""
    at_en = f"({where[1]}) " if where[1] else ""
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if not isinstance(kind, str) or not kind:
        raise _refuse(what, f"{at_zh}没有 GeoJSON 类型（type）；须为 {EXPECTED_ZH}",
                      f"{at_en}has no GeoJSON type; give {EXPECTED_EN}")
    if kind not in POLYGON_TYPES:
        raise _refuse(what, f"{at_zh}是 {kind}，不是面；须为 {EXPECTED_ZH}",
                      f"{at_en}is a {kind}, not a polygon; give {EXPECTED_EN}")
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, ShapelyError) as exc:
        raise _refuse(what, f"{at_zh}坐标无法解析：{exc}",
                      f"{at_en}has coordinates that cannot be read: {exc}") from None
    if geom.is_empty:
        raise _refuse(what, f"{at_zh}是空的面", f"{at_en}is an empty polygon")
    if not geom.is_valid:
        reason = explain_validity(geom)
        raise _refuse(what, f"{at_zh}无效：{reason}", f"{at_en}is not valid: {reason}")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise _refuse(what, f"{at_zh}坐标须为经纬度（WGS84 或 CGCS2000）",
                      f"{at_en}must be in longitude/latitude (WGS84 or CGCS2000)")
    return geom
