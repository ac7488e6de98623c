"""The fire method against hand-computed IPCC 2006 Eq. 2.27 values."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qinglu.core.errors import InvalidInput
from qinglu.core.quantities import MU_PER_HA
from qinglu.methods import fire
from qinglu.methods.fire import FireInput, FireInputError, estimate


def test_grassland_fire_with_defaults() -> None:
    # 10 ha of savanna/grassland, Table 2.4 default fuel consumed 4.1 t DM/ha -> 41 t DM.
    # CO2 = 41 x 1613e-3 = 66.133 t; CH4 = 41 x 2.3e-3 = 0.0943 t; N2O = 41 x 0.21e-3
    # = 0.00861 t; CO2e (AR5) = 66.133 + 0.0943 x 28 + 0.00861 x 265 = 71.05505 t.
    result = estimate(FireInput(vegetation="savanna_and_grassland", area=10, unit="ha"))
    assert result.dry_matter_t == pytest.approx(41.0)
    assert result.emissions_t["CO2"] == pytest.approx(66.133, abs=0.005)
    assert result.emissions_t["CH4"] == pytest.approx(0.0943, abs=0.005)
    assert result.co2e_t == pytest.approx(71.05505, abs=0.005)
    assert result.obligation_t == "71.06"
    assert result.defaults_used == ["fuel_consumed"]
    sources = {p["name"]: p["source"] for p in result.parameters}
    assert "Table 2.4" in sources["fuel_consumed"] and "Table 2.5" in sources["G_ef[CO2]"]


def test_forest_fire_with_site_measured_fuel() -> None:
    # 139.2 mu = 9.28 ha; 3.5 t DM/ha measured -> 32.48 t DM.
    # CO2 = 32.48 x 1.569 = 50.96112; CH4 = 32.48 x 0.0047 = 0.152656;
    # N2O = 32.48 x 0.00026 = 0.0084448; CO2e AR5 = 50.96112 + 4.274368 + 2.237872
    # = 57.47336 -> 57.48 t rounded up. AR4: 50.96112 + 3.8164 + 2.5165504 = 57.29407.
    result = estimate(FireInput(vegetation="extra_tropical_forest", area=139.2, unit="mu",
                                fuel_consumed=3.5))
    assert result.area_ha == pytest.approx(9.28)
    assert result.emissions_t["CO2"] == pytest.approx(50.96112, abs=0.005)
    assert result.co2e_t == pytest.approx(57.47336, abs=0.005)
    assert result.obligation_t == "57.48" and result.obligation_units == 5748
    assert result.defaults_used == []
    ar4 = estimate(FireInput(vegetation="extra_tropical_forest", area=139.2, unit="mu",
                             fuel_consumed=3.5, gwp="AR4"))
    assert ar4.obligation_t == "57.30"


def test_fuel_load_and_combustion_factor() -> None:
    # 2 ha, fuel load 10 t/ha x Cf 0.3 = 3 t/ha -> 6 t DM; CO2 = 6 x 1.569 = 9.414 t.
    result = estimate(FireInput(vegetation="extra_tropical_forest", area=2, unit="ha",
                                fuel_load=10,
                                combustion_factor=0.3))
    assert result.emissions_t["CO2"] == pytest.approx(9.414, abs=0.005)
    defaulted = estimate(FireInput(vegetation="extra_tropical_forest", area=2, unit="ha",
                                   fuel_load=10))
    assert defaulted.fuel_consumed_t_per_ha == pytest.approx(4.5)  # Table 2.6 Cf 0.45
    assert defaulted.defaults_used == ["combustion_factor"]


def test_polygon_input() -> None:
    # A 0.01 x 0.01 degree square near Guiyang. On a sphere of the authalic radius
    # R = 6,371,007 m its area is R^2 x dlon x (sin(lat2) - sin(lat1)) ~ 110.8 ha;
    # the ellipsoidal figure differs by well under 0.5 %.
    lon, lat = 106.70, 26.50
    square = {"type": "Polygon", "coordinates": [[
        [lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]]}
    r = 6_371_007.2
    spherical_ha = r * r * math.radians(0.01) * (
        math.sin(math.radians(lat + 0.01)) - math.sin(math.radians(lat))) / 10_000
    result = estimate(FireInput(vegetation="extra_tropical_forest", geojson=square,
                                fuel_consumed=2.0))
    assert result.area_ha == pytest.approx(spherical_ha, rel=0.005)
    assert result.emissions_t["CO2"] == pytest.approx(result.area_ha * 2.0 * 1.569, abs=0.005)
    feature = {"type": "Feature", "properties": {}, "geometry": square}
    assert estimate(FireInput(vegetation="extra_tropical_forest", geojson=feature,
                              fuel_consumed=2.0)).area_ha == pytest.approx(result.area_ha)


def test_co_is_excluded_unless_carbon_balance() -> None:
    base = FireInput(vegetation="extra_tropical_forest", area=9.28, unit="ha", fuel_consumed=3.5)
    excluded = estimate(base)
    balance = estimate(FireInput(**{**base.__dict__, "co_treatment": "carbon_balance"}))
    # CO = 32.48 x 0.107 = 3.47536 t; as CO2: x 44/28 = 5.461280 t, and nothing else changes.
    assert balance.co2e_t - excluded.co2e_t == pytest.approx(3.47536 * 44 / 28, abs=1e-6)
    assert excluded.co_treatment == "excluded"


def test_newer_factor_sets_add_pollutants() -> None:
    result = estimate(FireInput(vegetation="extra_tropical_forest", area=1, unit="ha",
                                fuel_consumed=10,
                                ef_set="finn2.5"))
    assert {"PM2.5", "PM10", "BC", "OC", "SO2", "NH3", "NMVOC"} <= set(result.emissions_t)
    # FINN 2.5 temperate forest PM2.5: 15 g/kg -> 10 t DM x 15e-3 = 0.15 t.
    assert result.emissions_t["PM2.5"] == pytest.approx(0.15)
    andreae = estimate(FireInput(vegetation="extra_tropical_forest", area=1, unit="ha",
                                 fuel_consumed=10,
                                 ef_set="andreae2019"))
    assert any("N2O" in note for note in andreae.notes)  # no N2O in Andreae: IPCC's, said so


@pytest.mark.parametrize("fire_input, message", [
    (FireInput(vegetation="extra_tropical_forest", area=-1, unit="ha"), "positive"),
    (FireInput(vegetation="extra_tropical_forest", area=0, unit="ha"), "positive"),
    (FireInput(vegetation="subtropical_forest", area=1, unit="ha"),
     "vegetation 'subtropical_forest'"),
    (FireInput(vegetation="extra_tropical_forest", area=1, unit="ha", ef_set="nope"), "unknown"),
    (FireInput(vegetation="extra_tropical_forest", area=1, unit="ha", gwp="AR9"), "unknown"),
    (FireInput(vegetation="extra_tropical_forest", area=1, unit="ha", fuel_consumed=800),
     "bound"),
    (FireInput(vegetation="extra_tropical_forest", area=1, unit="acre"), "unknown"),
    (FireInput(vegetation="biofuel_burning", area=1, unit="ha"), "no default"),
    (FireInput(vegetation="extra_tropical_forest", area=139.2), "needs its unit"),
    (FireInput(vegetation="extra_tropical_forest", area=139.2, unit=""), "needs its unit"),
    (FireInput(vegetation="extra_tropical_forest", geojson={"type": "Polygon", "coordinates": [
        [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}), "not valid"),
    (FireInput(vegetation="extra_tropical_forest", geojson={"type": "Point",
                                                            "coordinates": [0, 0]}), "Polygon"),
    (FireInput(vegetation="extra_tropical_forest", geojson={"type": "Polygon",
                                                            "coordinates": []}), "empty"),
])
def test_bad_input_is_refused(fire_input: FireInput, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        estimate(fire_input)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 5000), st.sampled_from([0, 2, 3]),
                          st.one_of(st.none(), st.floats(0.1, 400))), min_size=1, max_size=20))
def test_batch_equals_single(rows: list[tuple[float, int, float | None]]) -> None:
    areas = np.array([r[0] for r in rows])
    cats = np.array([r[1] for r in rows])
    fuels = np.array([np.nan if r[2] is None else r[2] for r in rows])
    batch = fire.estimate_batch(areas, cats, fuels, on=date(2026, 1, 1))
    for i, (area, cat, fuel) in enumerate(rows):
        single = estimate(FireInput(vegetation=fire.CATEGORIES[cat], area=area, unit="ha",
                                    fuel_consumed=fuel, on=date(2026, 1, 1)))
        assert batch["obligation_units"][i] == single.obligation_units
        assert batch["CO2"][i] == single.emissions_t["CO2"]


def test_batch_names_bad_rows() -> None:
    with pytest.raises(FireInputError, match=r"\[2\]"):
        fire.estimate_batch(np.array([1.0, -1.0]), np.array([3, 3]), np.array([1.0, 1.0]))


def test_an_area_is_taken_in_its_own_unit() -> None:
    # The same figure in mu, ha and m2: 15x apart between mu and ha, as the statute has it.
    mu, ha, m2 = (estimate(FireInput(vegetation="extra_tropical_forest", area=139.2, unit=u,
                                     fuel_consumed=3.5, on=date(2026, 3, 14)))
                  for u in ("mu", "ha", "m2"))
    assert (mu.area_ha, ha.area_ha) == (pytest.approx(139.2 / MU_PER_HA), 139.2)
    assert m2.area_ha == pytest.approx(0.01392)
    assert (mu.obligation_t, ha.obligation_t) == ("57.48", "862.11")
    assert mu.inputs["unit"] == "mu" and mu.inputs["date"] == "2026-03-14"


def test_fire_input_takes_no_date_among_the_evidence() -> None:
    evidence = {"vegetation": "extra_tropical_forest", "area": "139.2", "unit": "mu"}
    made = fire.fire_input(evidence, on=date(2026, 3, 14))
    assert (made.on, made.unit, made.ef_set) == (date(2026, 3, 14), "mu", fire.DEFAULT_EF_SET)
    with pytest.raises(InvalidInput, match="unknown fields: on"):
        fire.fire_input({**evidence, "on": date(2020, 1, 1)}, on=date(2026, 3, 14))


def test_batch_rows_need_a_unit_each() -> None:
    rows = [{"id": "a", "area": "139.2", "unit": "mu", "vegetation": "extra_tropical_forest"},
            {"id": "b", "area": "10", "unit": "", "vegetation": "savanna_and_grassland"}]
    with pytest.raises(InvalidInput, match="line 3 is invalid: an area needs its unit"):
        fire.batch_rows(rows)
    arrays = fire.batch_rows(rows[:1])
    assert arrays["area_ha"].tolist() == [pytest.approx(9.28)]
