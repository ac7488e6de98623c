"""Parameter files are checked at load: one bad file per kind of fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from qinglu.methods.params import ParameterFileError, load_table

HEADER = "ef_set,category,species,value,unit,source,valid_from,valid_to,status\n"
GOOD = ('ipcc2006,tropical_forest,CO2,1580,g/kg DM,"IPCC 2006 Vol.4 Table 2.5",'
        '2006-01-01,,verified\n')
KEYS = ("ef_set", "category", "species")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "factors.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads_with_dates(tmp_path: Path) -> None:
    from datetime import date

    table = load_table(write(tmp_path, HEADER + GOOD), KEYS)
    found = table.get(("ipcc2006", "tropical_forest", "CO2"), date(2024, 1, 1))
    assert found is not None and found.value == 1580
    assert table.get(("ipcc2006", "tropical_forest", "CO2"), date(2000, 1, 1)) is None


def test_value_valid_on_a_date_is_chosen(tmp_path: Path) -> None:
    from datetime import date

    text = HEADER + (
        'gfed4,x,CO2,1,g/kg DM,"old",2000-01-01,2010-12-31,verified\n'
        'gfed4,x,CO2,2,g/kg DM,"new",2011-01-01,,verified\n')
    table = load_table(write(tmp_path, text), KEYS)
    assert table.get(("gfed4", "x", "CO2"), date(2005, 1, 1)).value == 1  # type: ignore[union-attr]
    assert table.get(("gfed4", "x", "CO2"), date(2020, 1, 1)).value == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("text, reason", [
    ("ef_set,category,species,value,unit\n" + "a,b,c,1,g/kg DM\n", "missing columns"),
    (HEADER + GOOD.replace("1580", "lots"), "not a number"),
    (HEADER + GOOD.replace("1580", "-3"), ">= 0"),
    (HEADER + GOOD.replace("g/kg DM", "furlongs"), "unknown unit"),
    (HEADER + GOOD.replace('"IPCC 2006 Vol.4 Table 2.5"', '" "'), "missing source"),
    (HEADER + GOOD.replace("2006-01-01,,", "2006-01-01,2001-01-01,"), "before valid_from"),
    (HEADER + GOOD.replace("2006-01-01", "01/01/2006"), "not a date"),
    (HEADER + GOOD + GOOD, "overlap"),
    (HEADER + GOOD.replace("verified", "guessed"), "status"),
    (HEADER, "no parameters"),
])
def test_malformed_files_are_refused_with_path_and_reason(tmp_path: Path, text: str,
                                                          reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ParameterFileError, match=reason) as caught:
        load_table(path, KEYS)
    assert str(path) in str(caught.value)
