"""Quantities: decimal strings on the wire, integers of base units in the ledger."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from qinglu.core.errors import InvalidQuantity

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


def product_spec(code: str) -> ProductSpec:
    try:
        return PRODUCTS[code]
    except KeyError:
        from qinglu.core.errors import UnknownProduct

        raise UnknownProduct(
            f"未知产品 {code!r}（可选 {', '.join(PRODUCTS)}）",
            f"unknown product {code!r} (choose {', '.join(PRODUCTS)})",
        ) from None


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
