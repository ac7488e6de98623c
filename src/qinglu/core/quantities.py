"""Quantities: decimal strings on the wire, integers of base units in the ledger; areas,
which are never read without their unit."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from qinglu.core.errors import InvalidInput, InvalidQuantity

QUANTITY_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,6})?$"
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)
MAX_BASE_UNITS = 10**15


@dataclass(frozen=True)
class ProductSpec:
    code: str
    name_zh: str
    name_en: str
    unit: str
    decimals: int  # base unit = 10**-decimals of `unit`

    @property
    def base_unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


PRODUCTS: dict[str, ProductSpec] = {
    "FCS": ProductSpec("FCS", "林业碳汇", "forestry carbon sink", "tCO2e", 2),
    "GEC": ProductSpec("GEC", "绿色电力证书", "green electricity certificate", "MWh", 0),
}


# Products are rows of the registry's products table; FCS and GEC above are the two the
# code has always known (and the server functions' constants are rendered from). The
# registry tells this module of every row it reads or adds (registry/actions.py), so a
# product an operator adds is parsed and formatted like these, without a code change.
_KNOWN: dict[str, ProductSpec] = {}


def remember_product(spec: ProductSpec) -> None:
    """A product row the registry read or added."""
    if spec.code not in PRODUCTS:
        _KNOWN[spec.code] = spec


def product_spec(code: str) -> ProductSpec:
    spec = PRODUCTS.get(code) or _KNOWN.get(code)
    if spec is None:
        from qinglu.core.errors import UnknownProduct

        codes = ", ".join(sorted({*PRODUCTS, *_KNOWN}))
        raise UnknownProduct(f"未知产品 {code!r}（可选 {codes}）",
                             f"unknown product {code!r} (choose {codes})")
    return spec


def parse_quantity(product: str, text: str | Decimal | int) -> int:
    """Decimal text in the product's unit -> a positive whole number of base units."""
    spec = product_spec(product)
    raw = str(text).strip()
    if not _QUANTITY_RE.match(raw):
        raise InvalidQuantity(
            f"数量 {raw!r} 不是正的十进制数", f"quantity {raw!r} is not a positive decimal number"
        )
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes this
        raise InvalidQuantity(f"数量 {raw!r} 无效", f"quantity {raw!r} is invalid") from None
    units = value.scaleb(spec.decimals)
    if units != units.to_integral_value():
        raise InvalidQuantity(
            f"数量 {raw} 小于最小单位 {spec.base_unit} {spec.unit}",
            f"quantity {raw} is finer than the base unit {spec.base_unit} {spec.unit}",
        )
    count = int(units)
    if count <= 0:
        raise InvalidQuantity(f"数量必须大于零：{raw}", f"quantity must be above zero: {raw}")
    if count > MAX_BASE_UNITS:
        raise InvalidQuantity(f"数量过大：{raw}", f"quantity too large: {raw}")
    return count


def format_quantity(product: str, units: int) -> str:
    """Base units -> decimal text with the product's fixed number of places."""
    spec = product_spec(product)
    return f"{Decimal(units).scaleb(-spec.decimals):.{spec.decimals}f}"


# Areas. 1 ha = 15 mu (亩) is the Chinese statutory conversion: the State Council's 1984
# order on statutory units of measurement (国务院《关于在我国统一实行法定计量单位的命令》,
# with its 《全面推行我国法定计量单位的意见》) keeps the 市亩 as 1/15 hectare, so
# 1 mu = 10000/15 m² ≈ 666.67 m². Forestry surveys (小班) and court papers count in mu,
# the IPCC equations in ha: a figure without its unit is 15× off one way or the other.
MU_PER_HA = 15
M2_PER_HA = 10_000
HA_PER_UNIT: dict[str, Fraction] = {
    "mu": Fraction(1, MU_PER_HA),
    "ha": Fraction(1),
    "m2": Fraction(1, M2_PER_HA),
}
AREA_UNIT_NAMES = {"mu": "亩 mu", "ha": "公顷 ha", "m2": "平方米 m2"}
# What people write for the same units (survey sheets, CSV files).
AREA_UNIT_ALIASES = {"亩": "mu", "公顷": "ha", "hm2": "ha", "平方米": "m2", "m²": "m2"}


class AreaUnitRequired(InvalidInput):
    code = "area-unit-required"


@dataclass(frozen=True)
class Area:
    """An area with its unit; only `parse_area` makes one."""

    value: Decimal
    unit: str  # a key of HA_PER_UNIT

    @property
    def hectares(self) -> float:
        return float(Fraction(self.value) * HA_PER_UNIT[self.unit])

    def as_dict(self) -> dict[str, str]:
        return {"area": str(self.value), "unit": self.unit}


def area_unit(unit: str | None, *, value: object = None) -> str:
    """The unit's code (mu, ha, m2), or a refusal: missing and unknown units alike."""
    text = str(unit).strip() if unit is not None else ""
    if not text:
        given = f"{value}" if value is not None else ""
        raise AreaUnitRequired(
            f"面积须注明单位（亩 mu、公顷 ha 或平方米 m2）：{given} 未注明单位，不予采用",
            f"an area needs its unit (mu, ha or m2): {given} was given without one "
            "and is refused")
    code = AREA_UNIT_ALIASES.get(text, text.lower())
    if code not in HA_PER_UNIT:
        raise InvalidInput(
            f"面积单位 {text!r} 无效（可选 {', '.join(AREA_UNIT_NAMES.values())}）",
            f"unknown area unit {text!r}; choose one of {', '.join(HA_PER_UNIT)}")
    return code


def parse_area(value: str | Decimal | float | int, unit: str | None) -> Area:
    """A positive area and its unit; an area given without its unit is refused, never
    taken as mu or as ha."""
    code = area_unit(unit, value=value)
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise InvalidInput(f"面积 {value!r} 不是数字",
                           f"area {value!r} is not a number") from None
    if not number.is_finite() or number <= 0 or not math.isfinite(float(number)):
        raise InvalidInput(f"面积须为正数：{value}", f"area must be a positive number: {value}")
    return Area(number, code)
