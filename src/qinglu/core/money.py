"""Amounts of money as written on Chinese vouchers: 人民币叁仟贰佰叁拾柒元陆角整.

Follows the People's Bank of China rules for amounts in capital numerals (支付结算办法
附件一《正确填写票据和结算凭证的基本规定》): 零 for a gap between digits, one 零 for
a run of zeros, 整 after 元 or 角 when no 分 follows.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

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
    cents = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
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
