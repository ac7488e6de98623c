"""Quantities: decimal strings on the wire, integers of base units in the ledger; areas,
which are never read without their unit."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
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


# What people type for a number: full-width digits (３．５), spaces inside (1 234), a
# decimal comma ("3,5", "139,2") or thousands commas ("1,234.5"). `typed_number` turns it
# into plain decimal text, or refuses it when it cannot be read one way only ("1,234":
# a thousand and more, or one and a bit?). Every form reads numbers through it.
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f\u3000_']+")
_THOUSANDS = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?[0-9]+,[0-9]+$")


def typed_date(text: str, field_zh: str, field_en: str, example: str) -> date:
    """The day a person typed: full-width digits folded (NFKC), and 2026/01/31 or
    2026.01.31 read as 2026-01-31; anything else is refused naming the field and showing
    `example` as the way to write it."""
    raw = unicodedata.normalize("NFKC", text).strip().replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{field_zh}“{text.strip()}”无效，请写作 {example}",
                           f"{field_en} “{text.strip()}” is not a date; write {example}"
                           ) from None


class AmbiguousNumber(InvalidInput):
    code = "ambiguous-number"


def typed_number(text: str | Decimal | int, field_zh: str = "数值",
                 field_en: str = "value") -> str:
    """The decimal text a person meant: NFKC folds full-width digits, points and commas
    (and the ideographic space) to ASCII; spaces and apostrophes between digit groups go;
    one comma is a decimal comma ("3,5" = 3.5), unless it is followed by exactly three
    digits ("1,234"), which could be a thousands comma: that is refused with both
    readings named, never guessed. Commas every three digits before a point ("1,234.5")
    are thousands commas. Anything that is then not a number is refused, quoting what
    was typed."""
    typed = str(text)
    raw = _SPACES.sub("", unicodedata.normalize("NFKC", typed)).replace("。", ".")
    if _THOUSANDS.match(raw) and ("." in raw or raw.count(",") > 1):
        raw = raw.replace(",", "")
    elif _DECIMAL_COMMA.match(raw):
        whole, fraction = raw.split(",")
        if len(fraction) == 3 and whole.lstrip("+-") != "0":  # "0,001" reads one way only
            raise AmbiguousNumber(
                f"{field_zh}“{typed.strip()}”有歧义：请写作 {whole}{fraction} 或 "
                f"{whole}.{fraction}",
                f"{field_en} “{typed.strip()}” is ambiguous: write {whole}{fraction} or "
                f"{whole}.{fraction}")
        raw = f"{whole}.{fraction}"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not raw or not value.is_finite():
        raise InvalidInput(f"{field_zh}“{typed.strip()}”不是数字",
                           f"{field_en} “{typed.strip()}” is not a number")
    return raw


def parse_quantity(product: str, text: str | Decimal | int) -> int:
    """Decimal text in the product's unit -> a positive whole number of base units."""
    spec = product_spec(product)
    raw = str(text).strip()
    try:
        raw = typed_number(raw, "数量", "quantity")
    except AmbiguousNumber:
        raise
    except InvalidInput:
        pass  # not a number at all: refused below in the quantity's own words
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
    text = repr(value) if isinstance(value, float) else typed_number(value, "面积", "area")
    number = Decimal(text)
    if not number.is_finite() or number <= 0 or not math.isfinite(float(number)):
        # In the unit the person gave, as they typed it (not converted to ha).
        typed = str(value).strip()
        raise InvalidInput(f"面积须为正数：{typed} {AREA_UNIT_NAMES[code].split()[0]}",
                           f"area must be a positive number: {typed} {code}")
    return Area(number, code)
