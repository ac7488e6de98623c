"""Quantities of water and money with their units, as whole numbers of a fine base unit.

Every measured or agreed figure of basin compensation arrives with its unit (a column
header `tp [mg/L]`, a cell `1200 万m3`, an API field `volume_unit`), is checked against
the dimension it must have (a flow in m³/s is not a monthly volume), and is kept as an
integer of its base unit so that money follows exactly and vectorises in numpy int64:

| dimension      | base unit          | accepted units                     |
|----------------|--------------------|------------------------------------|
| concentration  | 0.0001 mg/L        | mg/L, μg/L (ug/L)                  |
| volume         | 1 m³               | m3 (m³), 万m3, 亿m3                 |
| flow           | 0.001 m³/s         | m3/s (m³/s)                        |
| money          | 1 fen (0.01 yuan)  | 元, 万元, 亿元                      |
| rate           | 1 fen per t        | 万元/t, 元/t, 元/kg                  |
| ratio          | 0.000001           | (none: a pure number)              |

A figure finer than its base unit is refused, not rounded: a concentration of
0.00005 mg/L or a volume of 0.5 m³ is not what any monitoring report states.
A figure without its unit is refused unless the caller's interface declares one (a
command-line option documented in mg/L); nothing guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from qinglu.core.errors import InvalidInput


class UnitRequired(InvalidInput):
    code = "unit-required"


class UnitMismatch(InvalidInput):
    code = "unit-mismatch"


@dataclass(frozen=True)
class Dimension:
    name: str
    label_zh: str
    base: Decimal  # one base unit, in the first accepted unit
    units: dict[str, Decimal]  # accepted unit -> how many of the first unit it is
    maximum: Decimal  # in the first unit; beyond any real figure of this kind
    signed: bool = False


def _units(**pairs: str) -> dict[str, Decimal]:
    return {name: Decimal(factor) for name, factor in pairs.items()}


CONCENTRATION = Dimension("concentration", "浓度", Decimal("0.0001"),
                          {"mg/L": Decimal(1), "μg/L": Decimal("0.001"),
                           "ug/L": Decimal("0.001")}, Decimal(1000))
VOLUME = Dimension("volume", "水量", Decimal(1),
                   {"m3": Decimal(1), "万m3": Decimal(10_000), "亿m3": Decimal(100_000_000)},
                   Decimal(500_000_000_000))
FLOW = Dimension("flow", "流量", Decimal("0.001"), {"m3/s": Decimal(1)}, Decimal(1_000_000))
MONEY = Dimension("money", "金额", Decimal("0.01"),
                  {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)},
                  Decimal(100_000_000_000))
RATE = Dimension("rate", "单价", Decimal(1) / Decimal(1_000_000),
                 _units(**{"万元/t": "1", "元/t": "0.0001", "元/kg": "0.1"}), Decimal(100))
RATIO = Dimension("ratio", "比例", Decimal("0.000001"), {"": Decimal(1)}, Decimal(1_000_000))
DIMENSIONS = {d.name: d for d in (CONCENTRATION, VOLUME, FLOW, MONEY, RATE, RATIO)}
# What people write for the same units.
ALIASES = {"m³": "m3", "万m³": "万m3", "亿m³": "亿m3", "万立方米": "万m3", "立方米": "m3",
           "亿立方米": "亿m3", "m³/s": "m3/s", "立方米/秒": "m3/s", "mg/l": "mg/L",
           "ug/l": "ug/L", "µg/L": "μg/L", "万元/吨": "万元/t", "元/吨": "元/t",
           "yuan": "元", "CNY": "元"}
_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


def unit_of(dimension: Dimension, unit: str | None, *, what: str) -> str:
    """The accepted spelling of `unit` for `dimension`, or a refusal naming what is wrong."""
    text = (unit or "").strip()
    text = ALIASES.get(text, text)
    if text in dimension.units:
        return text
    if not text:
        raise UnitRequired(
            f"{what} 须注明单位（{' '.join(dimension.units)}），未注明单位的数值不予采用",
            f"{what} needs its unit ({', '.join(dimension.units)}); a bare number is refused")
    other = next((d for d in DIMENSIONS.values() if text in d.units), None)
    if other is not None:
        raise UnitMismatch(
            f"{what} 的单位 {text} 是{other.label_zh}，不是{dimension.label_zh}"
            f"（可用 {' '.join(dimension.units)}）",
            f"{what}: {text} is a unit of {other.name}, not of {dimension.name} "
            f"(use {', '.join(dimension.units)})")
    raise UnitMismatch(f"{what} 的单位 {text!r} 无效（可用 {' '.join(dimension.units)}）",
                       f"{what}: unknown unit {text!r} (use {', '.join(dimension.units)})")


def split_unit(text: str) -> tuple[str, str]:
    """'1200 万m3' -> ('1200', '万m3'); a bare number -> (number, '')."""
    match = _WITH_UNIT.match(str(text))
    if match is None:
        return str(text).strip(), ""
    return match.group(1), match.group(2)


def to_base(dimension: Dimension, value: str | int | Decimal, unit: str | None, *,
            what: str) -> int:
    """A figure with its unit -> a whole number of the dimension's base unit.

    `value` may carry its own unit ('0.25 mg/L'); it then wins over `unit`, which is the
    unit a caller's interface declares for a bare number (None: a bare number is refused).
    """
    raw = str(value).strip()
    number_text, written = split_unit(raw)
    code = unit_of(dimension, written or unit, what=what)
    try:
        number = Decimal(number_text)
    except InvalidOperation:
        raise InvalidInput(f"{what} {raw!r} 不是数字", f"{what} {raw!r} is not a number") from None
    if not number.is_finite():
        raise InvalidInput(f"{what} {raw!r} 不是有限数", f"{what} {raw!r} is not finite")
    if number < 0 and not dimension.signed:
        raise InvalidInput(f"{what} 不能为负：{raw}", f"{what} cannot be negative: {raw}")
    in_first = number * dimension.units[code]
    if abs(in_first) > dimension.maximum:
        raise InvalidInput(f"{what} {raw} 超出合理上限 {dimension.maximum}",
                           f"{what} {raw} is beyond the bound {dimension.maximum}")
    base = in_first / dimension.base
    if base != base.to_integral_value():
        raise InvalidInput(
            f"{what} {raw} 精度超出 {dimension.base.normalize():f} "
            f"{next(iter(dimension.units))}",
            f"{what} {raw} is finer than {dimension.base.normalize():f} "
            f"{next(iter(dimension.units))}")
    return int(base)


def from_base(dimension: Dimension, base: int) -> Decimal:
    """Base units -> the figure in the dimension's first unit (mg/L, m3, m3/s, 元, 万元/t)."""
    return (Decimal(base) * dimension.base).normalize()


def text_of(dimension: Dimension, base: int) -> str:
    """Base units as plain text in the first unit, without exponent: 5000000 m3 -> '5000000'."""
    return f"{from_base(dimension, base):f}"


def yuan_text(fen: int) -> str:
    """Fen -> '5000.00'."""
    return f"{Decimal(fen).scaleb(-2):.2f}"
