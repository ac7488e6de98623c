"""Amounts in capital numerals as vouchers print them (PBoC rules for 大写金额)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qinglu.core.money import cny_capital


@pytest.mark.parametrize(("amount", "words"), [
    ("3237.60", "人民币叁仟贰佰叁拾柒元陆角整"),
    ("10000", "人民币壹万元整"),
    ("100010", "人民币壹拾万零壹拾元整"),
    ("1001", "人民币壹仟零壹元整"),
    ("0.05", "人民币伍分"),
    ("1.05", "人民币壹元零伍分"),
    ("10.5", "人民币壹拾元伍角整"),
    ("0", "人民币零元整"),
    ("105000000.01", "人民币壹亿零伍佰万元零壹分"),
    ("2697.96", "人民币贰仟陆佰玖拾柒元玖角陆分"),
])
def test_capital_numerals(amount: str, words: str) -> None:
    assert cny_capital(Decimal(amount)) == words


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError):
        cny_capital(Decimal("-1"))
