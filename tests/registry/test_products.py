"""Products as data: an operator adds a product (a row, no code) that is issued, traded
and retired; the ledger refuses moves its rules forbid; prefecture and provincial carbon
tickets by the holders' GB/T 2260 codes, and the upgrade that keeps the serial link."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

import qinglu.db.models  # noqa: F401  (every table, as the app loads them)
from qinglu.core.errors import Conflict, NotTradable, UnknownProduct
from qinglu.core.quantities import format_quantity, parse_quantity
from qinglu.core.serials import parse_serial
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.registry import actions as registry
from tests import factories

A = "test"


def _holder_account(session: Session, region: str) -> int:
    return factories.account(session, factories.org(session, name=f"持有人 {region}",
                                                    region=region))


def test_an_operator_adds_a_product_without_code_then_issues_trades_and_retires_it(
        session: Session) -> None:
    assert "WETLAND" not in {p["code"] for p in registry.list_products(session)}
    with pytest.raises(UnknownProduct):
        parse_quantity("NOSUCH", "1")
    added = registry.add_product(session, code="wetland", name_zh="湿地碳汇",
                                 name_en="wetland carbon sink", unit="tCO2e", decimals=1,
                                 scope="nation", methods=["GZ-WET-001"], actor=A)
    assert added["code"] == "WETLAND" and added["base_unit"] == "0.1"
    assert parse_quantity("WETLAND", "12.5") == 125
    project = registry.add_project(session, name="草海湿地", product="WETLAND",
                                   region="520521", methodology="GZ-WET-001", actor=A)["id"]
    seller, buyer = factories.account(session), factories.account(session)
    registry.issue(session, project_id=project, vintage=2025, quantity=1000,
                   to_account=seller, actor=A)
    registry.transfer(session, from_account=seller, to_account=buyer, product="WETLAND",
                      quantity=400, actor=A)
    retired = documents.retire(session, load_or_create_key(), from_account=buyer,
                               product="WETLAND", quantity=150, beneficiary="某企业",
                               purpose="碳中和 offset", actor=A)
    assert retired["certificate_number"]
    assert registry.balance(session, buyer)["WETLAND"]["held"] == format_quantity(
        "WETLAND", 250)
    wrong = registry.add_project(session, name="别的方法", product="WETLAND", region="520521",
                                 methodology="OTHER-001", actor=A)["id"]
    with pytest.raises(Conflict, match="OTHER-001"):  # not a method that may issue it
        registry.issue(session, project_id=wrong, vintage=2025, quantity=1, to_account=seller,
                       actor=A)
    assert registry.audit_ledger(session)["valid"]


def test_a_product_that_is_not_tradable_is_retired_but_never_transferred(
        session: Session) -> None:
    registry.add_product(session, code="QUOTA", name_zh="用能权配额", name_en="energy quota",
                         unit="tce", decimals=0, tradable=False, actor=A)
    project = registry.add_project(session, name="配额", product="QUOTA", region="520100",
                                   methodology="Q-1", actor=A)["id"]
    acct = factories.account(session)
    registry.issue(session, project_id=project, vintage=2025, quantity=10, to_account=acct,
                   actor=A)
    with pytest.raises(NotTradable, match="not tradable"):
        registry.transfer(session, from_account=acct, to_account=factories.account(session),
                          product="QUOTA", quantity=1, actor=A)
    documents.retire(session, load_or_create_key(), from_account=acct, product="QUOTA",
                     quantity=10, beneficiary="本单位", purpose="履约 compliance", actor=A)


def test_prefecture_ticket_stays_in_its_prefecture_provincial_one_moves_in_the_province(
        session: Session) -> None:
    qiandongnan = registry.add_project(session, name="剑河县碳票", product="GZCT",
                                       region="522629", methodology="GZ-FCS-001",
                                       actor=A)["id"]
    seller = _holder_account(session, "522629")       # 剑河县, 黔东南州 (5226)
    same = _holder_account(session, "522601")         # 凯里市, 黔东南州
    guiyang = _holder_account(session, "520102")      # 贵阳市南明区 (5201)
    sichuan = _holder_account(session, "510104")      # 成都, another province
    registry.issue(session, project_id=qiandongnan, vintage=2024, quantity=10_000,
                   to_account=seller, actor=A)
    registry.transfer(session, from_account=seller, to_account=same, product="GZCT",
                      quantity=1_000, actor=A)
    with pytest.raises(NotTradable, match="scope"):
        registry.transfer(session, from_account=seller, to_account=guiyang, product="GZCT",
                          quantity=1_000, actor=A)
    upgraded = registry.upgrade_tickets(session, from_account=seller, from_product="GZCT",
                                        to_product="GZCTP", quantity=5_000, actor=A)
    link = upgraded["links"][0]
    old, new = parse_serial(link["from"]), parse_serial(link["to"])
    assert old.product == "GZCT" and new.product == "GZCTP" and old.quantity == new.quantity
    assert new.region == "520000"
    registry.transfer(session, from_account=seller, to_account=guiyang, product="GZCTP",
                      quantity=2_000, actor=A)
    with pytest.raises(NotTradable, match="scope"):
        registry.transfer(session, from_account=seller, to_account=sichuan, product="GZCTP",
                          quantity=1, actor=A)
    assert registry.balance(session, seller)["GZCT"]["held"] == "40.00"
    assert registry.balance(session, guiyang)["GZCTP"]["held"] == "20.00"
    entry = registry.latest_entries(session, limit=5)
    assert any(e.get("kind") == "product.upgrade" for e in entry)
    assert registry.audit_ledger(session)["valid"]


def test_a_wind_development_right_is_listed_and_sold_through_the_market(
        session: Session) -> None:
    from decimal import Decimal

    from qinglu.market import actions as market

    project = registry.add_project(session, name="威宁县风能资源（示例）", product="WINDR",
                                   region="520526", methodology="GZ-CLIMATE-001",
                                   actor=A)["id"]
    county, developer = _holder_account(session, "520526"), _holder_account(session, "520102")
    registry.issue(session, project_id=project, vintage=2026,
                   quantity=parse_quantity("WINDR", "50"), to_account=county, actor=A)
    listing = market.create_listing(session, seller_account=county, product="WINDR",
                                    quantity=parse_quantity("WINDR", "50"),
                                    price=Decimal("20000"), min_lot=None, actor=A,
                                    note="风电开发权 50 MW 装机容量 (capacity)")
    order = market.place_order(session, listing_id=listing["id"], buyer_account=developer,
                               quantity=parse_quantity("WINDR", "50"), actor=A)
    market.confirm_payment(session, load_or_create_key(), order_id=order["id"],
                           reference="BANK-1", actor=A)
    assert registry.balance(session, developer)["WINDR"]["held"] == "50.000"


def test_cli_product_add_and_list(database_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from qinglu.cli import app

    runner = CliRunner()
    added = runner.invoke(app, ["product", "add", "--code", "KARST", "--name-zh", "石漠化治理碳汇",
                                "--name-en", "karst restoration carbon", "--unit", "tCO2e",
                                "--decimals", "2", "--scope", "province", "--db", database_url,
                                "--json"])
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(app, ["product", "list", "--db", database_url,
                                            "--json"]).stdout)
    assert {"KARST", "GZCT", "GZCTP", "WINDR", "SOLARR", "FCS", "GEC"} <= {
        p["code"] for p in listed}
