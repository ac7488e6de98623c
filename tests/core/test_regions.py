"""The full GB/T 2260 county-level list: every code checked against it, named from it."""

import csv
import re

import pytest

from qinglu.core.errors import InvalidIdentifier
from qinglu.core.identifiers import region_name, validate_region
from qinglu.core.regions import DATA, place_name, regions


def test_the_list_is_complete_and_well_formed() -> None:
    known = regions()
    levels = {r.level for r in known.values()}
    assert levels == {"province", "prefecture", "county"}
    counts = {level: sum(r.level == level for r in known.values()) for level in levels}
    # 31 mainland provinces + Hong Kong, Macao, Taiwan; ~2,850 county-level units.
    assert counts["province"] == 34
    assert counts["county"] > 2800 and counts["prefecture"] > 320
    for code, region in known.items():
        assert re.fullmatch(r"\d{6}", code) and region.zh and region.en
        if region.level == "county":
            assert code[:2] + "0000" in known, code  # every county has its province
    with DATA.open(encoding="utf-8") as handle:
        assert len(list(csv.reader(handle))) == len(known) + 1  # no duplicate code


def test_every_code_is_checked_against_the_list() -> None:
    for good in ("522629", "522635", "520000", "522600", "110105", " 441900 "):
        assert validate_region(good) == good.strip()
    # 529999 has a valid province prefix (52, Guizhou) but is no county: refused now.
    for bad in ("529999", "522699", "990000", "52263a", "5226", ""):
        with pytest.raises(InvalidIdentifier):
            validate_region(bad)


def test_places_are_named_in_both_languages() -> None:
    assert place_name("522629", "zh") == "剑河县（贵州省黔东南苗族侗族自治州）"
    assert place_name("522629", "en") == "Jianhe County, Guizhou Province"
    assert place_name("520000", "en") == "Guizhou Province"
    assert place_name("123456", "zh") == "123456"  # unknown: shown as it is
    assert region_name("522635") == "麻江县 Majiang County"
    assert region_name("371402") != "371402"  # any county, not only the demo's seven


def test_a_place_may_be_typed_by_its_name() -> None:
    assert validate_region("剑河县") == "522629"
    assert validate_region(" 黔东南苗族侗族自治州 ") == "522600"
    with pytest.raises(InvalidIdentifier) as shared:
        validate_region("朝阳区")  # Beijing's and Changchun's (and more)
    assert "110105" in shared.value.zh and "110105" in shared.value.en
    with pytest.raises(InvalidIdentifier):
        validate_region("无此县")
