"""forest_sink.stock_change against hand-computed figures for two species."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from qinglu.methods import forest
from qinglu.methods.forest import ForestInputError, ParcelMeasurement, UnconfirmedParameters

HEADER = "species,parameter,value,unit,source,valid_from,valid_to,status\n"
# Test values chosen for clean arithmetic (a project's override file, checked sources).
OVERRIDE = HEADER + "".join(
    f"{species},{key},{value},{unit},\"test override: {species} {key}\",2020-01-01,,verified\n"
    for species, values in {"杉木": (0.3, 1.5, 0.2, 0.5), "马尾松": (0.4, 1.25, 0.25, 0.5)}.items()
    for key, value, unit in zip(("D", "BEF", "R", "CF"), values,
                                ("t DM/m3", "ratio", "ratio", "t C/t DM"), strict=True)
)
START, END = date(2024, 1, 1), date(2025, 12, 31)


def write_override(tmp_path: Path, text: str = OVERRIDE) -> Path:
    path = tmp_path / "override.csv"
    path.write_text(text, encoding="utf-8")
    return path


def parcels() -> list[ParcelMeasurement]:
    return [
        # 杉木: 2 ha = 30 mu, +1.0 m3/mu -> 30 m3; 0.3 x 1.5 x 1.2 x 0.5 = 0.27 tC/m3
        # x 44/12 = 0.99 tCO2e/m3 -> 29.7 tCO2e
        ParcelMeasurement("1-1", "杉木", 2.0, 5.0, 6.0),
        # 马尾松: 1 ha = 15 mu, +2.4 m3/mu -> 36 m3; 0.4 x 1.25 x 1.25 x 0.5 = 0.3125 tC/m3
        # -> 11.25 tC -> 41.25 tCO2e
        ParcelMeasurement("1-2", "马尾松", 1.0, 4.0, 6.4),
    ]


def test_two_species_by_hand(tmp_path: Path) -> None:
    # gross = 29.7 + 41.25 = 70.95; net = (70.95 - 5 - 0.95) x (1 - 0.1) = 58.5 t
    result = forest.stock_change(parcels(), period_start=START, period_end=END,
                                 baseline_t=5, leakage_t=0.95, uncertainty_deduction=0.1,
                                 override=write_override(tmp_path))
    by_number = {row["number"]: row for row in result.parcels}
    assert by_number["1-1"]["delta_v_m3"] == pytest.approx(30.0)
    assert by_number["1-1"]["delta_c_t"] == pytest.approx(29.7)
    assert by_number["1-2"]["delta_c_t"] == pytest.approx(41.25)
    assert by_number["1-1"]["stock_end_t"] == pytest.approx(6 * 30 * 0.99)
    assert result.gross_t == pytest.approx(70.95)
    assert result.net_t == pytest.approx(58.5)
    assert result.issuable_units == 5850
    assert result.issuable_t == "58.50"
    names = {p["name"] for p in result.parameters}
    assert {"D[杉木]", "CF[马尾松]"} <= names
    assert all(p["status"] == "verified" for p in result.parameters)


def test_rounds_down_to_the_hundredth(tmp_path: Path) -> None:
    # 杉木 0.1 mu (1/150 ha) growing 1.0 m3/mu: 0.1 m3 x 0.99 = 0.099 t -> 0.09 t (9 units)
    result = forest.stock_change([ParcelMeasurement("x", "杉木", 1 / 150, 1.0, 2.0)],
                                 period_start=START, period_end=END, baseline_t=0,
                                 leakage_t=0, override=write_override(tmp_path))
    assert result.net_t == pytest.approx(0.099)
    assert result.issuable_units == 9


def test_net_loss_issues_nothing(tmp_path: Path) -> None:
    result = forest.stock_change([ParcelMeasurement("x", "杉木", 1.0, 6.0, 5.0)],
                                 period_start=START, period_end=END, baseline_t=0,
                                 leakage_t=0, override=write_override(tmp_path))
    assert result.gross_t == pytest.approx(-14.85)
    assert result.issuable_units == 0 and result.notes


def test_packaged_values_are_unconfirmed_and_refused() -> None:
    with pytest.raises(UnconfirmedParameters) as caught:
        forest.stock_change(parcels(), period_start=START, period_end=END, baseline_t=0,
                            leakage_t=0)
    assert "杉木.D" in caught.value.en and "override" in caught.value.en


def test_unknown_species_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ForestInputError, match="银杏"):
        forest.stock_change([ParcelMeasurement("x", "银杏", 1.0, 1.0, 2.0)],
                            period_start=START, period_end=END, baseline_t=0, leakage_t=0,
                            override=write_override(tmp_path))


def test_override_rows_must_not_be_unconfirmed(tmp_path: Path) -> None:
    path = write_override(tmp_path, OVERRIDE.replace(",verified", ",unconfirmed"))
    with pytest.raises(UnconfirmedParameters):
        forest.stock_change(parcels(), period_start=START, period_end=END, baseline_t=0,
                            leakage_t=0, override=path)


def test_override_file_is_checked(tmp_path: Path) -> None:
    path = write_override(tmp_path, OVERRIDE.replace("test override: 杉木 D", ""))
    with pytest.raises(ForestInputError, match="missing source"):
        forest.stock_change(parcels(), period_start=START, period_end=END, baseline_t=0,
                            leakage_t=0, override=path)


def test_out_of_bounds_parameter_is_refused(tmp_path: Path) -> None:
    path = write_override(tmp_path, OVERRIDE.replace("杉木,CF,0.5", "杉木,CF,5"))
    with pytest.raises(ForestInputError, match="CF"):
        forest.stock_change(parcels(), period_start=START, period_end=END, baseline_t=0,
                            leakage_t=0, override=path)


@pytest.mark.parametrize("kwargs", [
    {"baseline_t": -1, "leakage_t": 0},
    {"baseline_t": 0, "leakage_t": float("nan")},
    {"baseline_t": 0, "leakage_t": 0, "uncertainty_deduction": 1.0},
])
def test_bad_inputs(tmp_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(ForestInputError):
        forest.stock_change(parcels(), period_start=START, period_end=END,
                            override=write_override(tmp_path), **kwargs)  # type: ignore[arg-type]


def test_period_must_run_forward(tmp_path: Path) -> None:
    with pytest.raises(ForestInputError):
        forest.stock_change(parcels(), period_start=END, period_end=START, baseline_t=0,
                            leakage_t=0, override=write_override(tmp_path))


def test_buffer_share_policy() -> None:
    share = forest.buffer_share("medium", date(2026, 11, 26))
    assert share.value == pytest.approx(0.15) and share.status == "policy"
    with pytest.raises(ForestInputError):
        forest.buffer_share("extreme", date(2026, 11, 26))


def test_packaged_species_file_loads_and_covers_parcel_species() -> None:
    from qinglu.forestry.parcels import species_names

    packaged, _ = forest.species_table()
    keys = packaged.keys()
    species = {key[0] for key in keys}
    assert species <= set(species_names().values())
    assert all(packaged.get((s, "D"), date(2026, 1, 1)) is not None for s in species)
