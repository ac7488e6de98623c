"""One vocabulary: every status and kind the models store has a label in both languages."""

from datetime import UTC, date, datetime

from qinglu.cases.models import AUTHORITY_KINDS, CASE_KINDS
from qinglu.core.labels import group_codes, label, local_time, table
from qinglu.documents.models import DOCUMENT_KINDS
from qinglu.forestry.models import REPORT_STATUSES
from qinglu.market.models import LISTING_STATUSES, ORDER_STATUSES
from qinglu.methods.fire import CATEGORY_NAMES
from qinglu.registry.models import ACCOUNT_KINDS, BLOCK_STATES, HOLD_STATES, HOLDER_KINDS

MODEL_CODES = {
    "case_kind": CASE_KINDS, "authority_kind": AUTHORITY_KINDS,
    "listing_status": LISTING_STATUSES, "order_status": ORDER_STATUSES,
    "hold_status": HOLD_STATES, "block_state": BLOCK_STATES,
    "account_kind": ACCOUNT_KINDS, "holder_kind": HOLDER_KINDS,
    "document_kind": tuple(DOCUMENT_KINDS), "report_status": REPORT_STATUSES,
    "vegetation": tuple(CATEGORY_NAMES),
    "role": ("operator", "verifier", "authority", "holder"),
}


def test_every_model_code_has_both_labels() -> None:
    for group, codes in MODEL_CODES.items():
        assert set(codes) <= set(group_codes(group)), group
        for code in codes:
            zh, en = table()[(group, code)]
            assert zh and en and zh != en, (group, code)
            assert any("\u4e00" <= c <= "\u9fff" for c in zh), (group, code)
            assert not any("\u4e00" <= c <= "\u9fff" for c in en), (group, code)


def test_label_by_group_and_language() -> None:
    assert label("pending", "zh", "order_status") == "待付款"
    assert label("pending", "en", "order_status") == "awaiting payment"
    assert label("pending", "zh", "hold_status") == "待结算"
    assert label("holding", "zh") == "持有账户"  # unambiguous without a group
    assert label("FCS", "en") == "forestry carbon sink"
    assert label("certified", "zh", "case_status") == "已出证"
    assert label("pending", "zh") == "pending"  # ambiguous without its group: left bare
    assert label(None, "en") == "—"


def test_times_in_shanghai_with_the_zone() -> None:
    moment = datetime(2099, 12, 31, 16, 0, tzinfo=UTC)
    assert local_time(moment, "en") == "2100-01-01 00:00 CST (UTC+8)"
    assert local_time("2099-12-31T16:00:00", "zh") == "2100-01-01 00:00 北京时间 (UTC+8)"
    assert local_time("2026-12-01T00:40:00+00:00", "en") == "2026-12-01 08:40 CST (UTC+8)"
    assert local_time(date(2026, 1, 2), "en") == "2026-01-02"


def test_a_refusal_reads_in_one_language() -> None:
    import pytest

    from qinglu.core.errors import InvalidInput, choice, require_text

    with pytest.raises(InvalidInput) as refused:
        require_text("受益人 beneficiary", "  ")
    assert refused.value.en == "beneficiary must not be empty"
    assert refused.value.zh == "受益人 不能为空"
    with pytest.raises(InvalidInput) as refused:
        choice("水体 waterbody", "sea", ("river", "lake"))
    assert refused.value.en.startswith("waterbody 'sea' is not one of")
    assert refused.value.zh.startswith("水体 'sea' 无效")


def test_a_two_language_message_is_shown_in_the_page_language() -> None:
    from jinja2 import Environment

    from qinglu.web.filters import install

    env = install(Environment(autoescape=True))
    shown = env.from_string("{{ m|one_language }}|{{ 'authority:majiang'|actor }}")
    message = "数量 与登记簿不符 / quantity differs from the registry"
    assert shown.render(m=message, lang="en") == \
        "quantity differs from the registry|authority majiang"
    assert shown.render(m=message, lang="zh") == "数量 与登记簿不符|办案机关 majiang"


def test_a_product_row_gives_its_names(session: object) -> None:
    """A product an operator added is named from its row, in either language."""
    from jinja2 import Environment
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    import qinglu.registry.actions  # noqa: F401  (reads the product rows, as the app does)
    from qinglu.web.filters import install

    assert isinstance(session, Session)
    session.rollback()
    session.execute(text("SELECT 1"))  # the products are read when a transaction begins
    shown = install(Environment()).from_string("{{ 'WINDR'|product }}")
    assert shown.render(lang="zh") == "风能资源开发权"
    assert shown.render(lang="en") == "wind development right (climate resource)"


def test_a_late_evening_in_utc_is_the_next_day_in_china() -> None:
    from qinglu.core.labels import as_shanghai

    assert as_shanghai(datetime(2026, 3, 14, 20, 0)).isoformat()[:10] == "2026-03-15"


def test_the_table_has_one_row_per_code_and_both_languages() -> None:
    import csv

    from qinglu.core.labels import DATA

    with DATA.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = [(r["group"], r["code"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(table())
    assert all(r["zh"].strip() and r["en"].strip() for r in rows)
