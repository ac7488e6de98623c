"""core.geometry.burned_area: the GeoJSON forms a person hands in are read (a polygon, a
feature, a collection of them united), everything else is refused naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import box, mapping

from qinglu.core.geometry import GeometryRefused, burned_area

WEST = box(108.60, 26.40, 108.61, 26.41)
EAST = box(108.605, 26.40, 108.62, 26.41)  # overlaps WEST by half of it


def feature(geometry: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {}, "geometry": geometry}


def collection(*features: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


@pytest.mark.parametrize("given", [
    mapping(WEST),
    feature(mapping(WEST)),
    collection(feature(mapping(WEST))),
    collection(feature(mapping(WEST)), crs={"type": "name", "properties": {
        "name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}),
    collection(feature(mapping(WEST)), crs={"type": "name", "properties": {"name": "EPSG:4490"}}),
])
def test_one_polygon_in_any_wrapping(given: dict[str, Any]) -> None:
    assert burned_area(given).equals(WEST)


def test_a_collection_of_polygons_is_their_union() -> None:
    united = burned_area(collection(feature(mapping(WEST)), feature(mapping(EAST))))
    assert united.area == pytest.approx(WEST.union(EAST).area)
    assert united.area < WEST.area + EAST.area  # the overlap counted once
    apart = box(108.70, 26.40, 108.71, 26.41)
    assert burned_area(collection(feature(mapping(WEST)), feature(mapping(apart)))
                       ).geom_type == "MultiPolygon"


POINT = {"type": "Point", "coordinates": [108.6, 26.4]}
LINE = {"type": "LineString", "coordinates": [[108.6, 26.4], [108.7, 26.5]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
PROJECTED = box(500000, 2920000, 500100, 2920100)


@pytest.mark.parametrize(("given", "named"), [
    ([mapping(WEST)], "not an array"),
    ("Polygon", "not a string"),
    ({}, "has no GeoJSON type"),
    (collection(), "empty FeatureCollection"),
    ({"type": "FeatureCollection", "features": {"0": 1}}, "without a list of features"),
    (collection(feature(POINT)), "feature 1) is a Point, not a polygon"),
    (collection(feature(mapping(WEST)), feature(LINE)), "feature 2) is a LineString"),
    (collection(feature(mapping(WEST)), feature(None)), "feature 2 without a geometry"),
    (collection(feature(mapping(WEST)), [1, 2]), "feature 2, which is not a GeoJSON Feature"),
    (feature(None), "a feature without a geometry"),
    (POINT, "is a Point, not a polygon"),
    ({"type": "GeometryCollection", "geometries": [mapping(WEST)]}, "GeometryCollection"),
    ({"type": "Polygon", "coordinates": "x"}, "coordinates that cannot be read"),
    ({"type": "Polygon", "coordinates": []}, "empty polygon"),
    (BOWTIE, "is not valid: Self-intersection"),
    (mapping(PROJECTED), "must be in longitude/latitude"),
    (collection(feature(mapping(PROJECTED)), crs={"type": "name", "properties": {
        "name": "EPSG:4547"}}), "is in EPSG:4547, not longitude/latitude"),
    (collection(feature(mapping(WEST)), crs={"type": "name", "properties": {
        "name": "EPSG:999999"}}), "unknown CRS"),
    (collection(feature(mapping(WEST)), crs="EPSG:4326"), "CRS in a form not understood"),
])
def test_anything_else_is_refused_naming_the_problem(given: object, named: str) -> None:
    with pytest.raises(GeometryRefused) as refused:
        burned_area(given, ("过火范围", "the burned area"))
    assert named in refused.value.en, refused.value.en
    assert refused.value.zh.startswith("过火范围")
