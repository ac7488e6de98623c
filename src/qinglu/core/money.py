"""Money: the one rounding rule, the one price parser, and amounts in capital numerals.

Every amount Qinglu states (a case agreement, a market order and its fee, a voucher, a
PDF and its 大写 line) is rounded by `round_fen`: 四舍五入 (ROUND_HALF_UP) to the fen,
0.01 CNY. PostgreSQL's server-side order function rounds the same way: `round(numeric,
2)` rounds half away from zero, which is half up for the positive amounts it sees.

Capital numerals follow the People's Bank of China rules for amounts (支付结算办法
附件一《正确填写票据和结算凭证的基本规定》): 零 for a gap between digits, one 零 for
a run of zeros, 整 after 元 or 角 when no 分 follows.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from qinglu.core.errors import InvalidInput
from qinglu.core.quantities import product_spec

FEN = Decimal("0.01")
PRICE_PLACES = Decimal("0.0001")  # prices are kept to 4 decimal places
MAX_PRICE = Decimal("1000000")


def round_fen(amount: Decimal) -> Decimal:
    """The money rounding rule: 四舍五入 (half up) to the fen: 3478.145 -> 3478.15."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def money_amount(price_per_unit: Decimal, quantity_base_units: int, product: str) -> Decimal:
    """What `quantity_base_units` of `product` cost at `price_per_unit` CNY per unit of the
    product (e.g. per tCO2e), rounded to the fen by `round_fen`.

    60.50 CNY/t x 5,749 base units of FCS (57.49 t) = 3478.145 -> 3478.15."""
    in_unit = Decimal(quantity_base_units) * product_spec(product).base_unit
    return round_fen(price_per_unit * in_unit)


def parse_price(text: str | Decimal) -> Decimal:
    """A price in CNY per unit of a product: above 0, at most `MAX_PRICE`, at most 4
    decimal places; refused with the reason otherwise."""
    try:
        price = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidInput(f"价格 {text!r} 不是数字", f"price {text!r} is not a number") from None
    if not price.is_finite() or price <= 0 or price > MAX_PRICE:
        raise InvalidInput(f"价格须在 0 与 {MAX_PRICE} 元之间：{text}",
                           f"price must be above 0 and at most {MAX_PRICE} CNY: {text}")
    if price != price.quantize(PRICE_PLACES):
        raise InvalidInput(f"价格最多四位小数：{text}", f"price has more than 4 decimals: {text}")
    return price


def price_text(price: Decimal) -> str:
    """A price as shown: to the fen unless finer: 50.0000 -> "50.00", 50.1250 -> "50.125"."""
    cents = price.quantize(FEN)
    return str(cents) if cents == price else str(price.normalize())


DIGITS = "零壹贰叁肆伍陆柒捌玖"
PLACES = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿", "万亿")


def _group(value: int) -> str:
    """1..9999 in capitals, without a leading 零."""
    out, gap = "", False
    for place in (3, 2, 1, 0):
        digit = value // 10**place % 10
        if digit == 0:
            gap = bool(out)
            continue
        if gap:
            out += "零"
            gap = False
        out += DIGITS[digit] + PLACES[place]
    return out


def _integer(value: int) -> str:
    groups = []
    while value:
        groups.append(value % 10000)
        value //= 10000
    if len(groups) > len(GROUPS):
        raise ValueError("amount too large")
    out, gap = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            gap = bool(out)
            continue
        if out and (gap or group < 1000):
            out += "零"
        out += _group(group) + GROUPS[index]
        gap = False
    return out


def cny_capital(amount: Decimal) -> str:
    """`Decimal("3237.60")` -> "人民币叁仟贰佰叁拾柒元陆角整"."""
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount of money: {amount}")
    cents = int(round_fen(amount) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    out = _integer(yuan) + "元" if yuan else ""
    if jiao == 0 and fen == 0:
        return "人民币" + (out or "零元") + "整"
    if jiao:
        out += DIGITS[jiao] + "角"
    if fen:
        out += ("零" if yuan and not jiao else "") + DIGITS[fen] + "分"
    else:
        out += "整"
    return "人民币" + out
