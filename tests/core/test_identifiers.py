import pytest

from qinglu.core.errors import InvalidIdentifier
from qinglu.core.identifiers import (
    mask_id_number,
    mask_person_name,
    validate_region,
    validate_resident_id,
    validate_uscc,
)


def test_known_valid_codes_pass() -> None:
    # Published examples: a USCC and the GB 11643 standard's own sample number.
    assert validate_uscc("91350100M000100Y43") == "91350100M000100Y43"
    assert validate_resident_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize("code", ["91350100M000100Y44", "91350100M000100Y4", "91350100I000100Y43"])
def test_bad_uscc_is_refused(code: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_uscc(code)


@pytest.mark.parametrize("number", ["110105194912310021", "1101051949123100", "11010519491231002Y"])
def test_bad_resident_id_is_refused(number: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_resident_id(number)


def test_region_codes() -> None:
    assert validate_region("522635") == "522635"
    for bad in ("99000", "990000", "52263a"):
        with pytest.raises(InvalidIdentifier):
            validate_region(bad)


def test_masking() -> None:
    assert mask_person_name("钟某某") == "钟某"
    assert mask_person_name("欧阳修") == "欧阳某"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
