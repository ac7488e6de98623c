import pytest
from hypothesis import given
from hypothesis import strategies as st

from qinglu.core.errors import InvalidQuantity, InvalidSerial
from qinglu.core.quantities import format_quantity, parse_quantity
from qinglu.core.serials import format_serial, parse_serial


def test_parse_quantity_in_base_units() -> None:
    assert parse_quantity("FCS", "53.96") == 5396
    assert parse_quantity("FCS", "1000000") == 100_000_000
    assert parse_quantity("GEC", "12") == 12


@pytest.mark.parametrize("text", ["0", "0.00", "-1", "abc", "0.001", "1e3", "", " ", "1.2.3"])
def test_bad_quantities_are_refused(text: str) -> None:
    with pytest.raises(InvalidQuantity):
        parse_quantity("FCS", text)


def test_gec_has_whole_units_only() -> None:
    with pytest.raises(InvalidQuantity):
        parse_quantity("GEC", "1.5")


@given(st.integers(min_value=1, max_value=10**14))
def test_quantity_round_trip(units: int) -> None:
    assert parse_quantity("FCS", format_quantity("FCS", units)) == units


@given(
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1990, max_value=2100),
    st.integers(min_value=1, max_value=10**11),
    st.integers(min_value=0, max_value=10**11),
)
def test_serial_round_trip(project: int, vintage: int, start: int, length: int) -> None:
    text = format_serial("FCS", "522629", project, vintage, start, start + length)
    parsed = parse_serial(text)
    assert (parsed.product, parsed.region, parsed.project_id, parsed.vintage) == (
        "FCS", "522629", project, vintage)
    assert (parsed.start, parsed.end) == (start, start + length)
    assert str(parsed) == text


@pytest.mark.parametrize("text", [
    "", "QL-FCS", "QL-FCS-522629-P1-2023-5-3", "QL-FCS-52262-P1-2023-1-3", "hello",
    "QL-FCS-522629-P1-2023-0-3",
])
def test_malformed_serials_are_refused(text: str) -> None:
    with pytest.raises(InvalidSerial):
        parse_serial(text)
