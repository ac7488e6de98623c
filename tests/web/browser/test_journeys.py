"""Three people's journeys through the web UI in a real (headless) browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")


def test_visitor_searches_a_serial_and_verifies_the_certificate(
        page: Any, live_server: dict[str, Any], shots: Path) -> None:
    base, demo = live_server["url"], live_server["demo"]
    page.goto(base + "/")
    assert page.locator("[data-total='FCS-retired']").inner_text() != "0.00"
    page.wait_for_selector("#by-county canvas")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    serial = demo["cases"]["majiang"]["agreement"]["serials"][0]
    page.click("text=序列号查询")
    page.fill("input[name=serial]", serial)
    page.click("form button[type=submit]")
    page.wait_for_selector("#serial-result")
    assert page.locator("#serial-result [data-state]").first.get_attribute(
        "data-state") == "retired"
    page.screenshot(path=str(shots / "serial.png"), full_page=True)
    number = demo["cases"]["majiang"]["certificate_number"]
    page.goto(f"{base}/verify")
    page.fill("input[name=number]", number)
    page.click("form button[type=submit]")
    assert page.locator("#verdict").get_attribute("data-valid") == "true"
    assert "钟某" in page.content() and "53.96" in page.content()
    page.screenshot(path=str(shots / "verify.png"), full_page=True)


def test_authority_opens_a_fire_case_and_sees_the_obligation(
        page: Any, live_server: dict[str, Any], shots: Path) -> None:
    base, demo = live_server["url"], live_server["demo"]
    sign_in(page, base, "majiang")
    page.wait_for_url(f"{base}/cases")
    form = page.locator("#new-case")
    form.locator("input[name=number]").fill("麻检〔2026〕浏览器1号")
    form.locator("input[name=defendant]").fill(str(demo["holders"]["defendant"]))
    form.locator("input[name=incident_date]").fill("2026-03-14")
    form.locator("input[name=place]").fill("麻江县某村")
    form.locator("input[name=area]").fill("139.2")
    form.locator("select[name=unit]").select_option("mu")  # no unit is preselected
    form.locator("input[name=fuel_consumed]").fill("3.5")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#obligation")
    # 139.2 mu of extra-tropical forest, 3.5 t DM/ha measured: 57.48 tCO2e (AR5).
    assert page.locator("#obligation").inner_text() == "57.48"
    page.screenshot(path=str(shots / "case.png"), full_page=True)


def test_holder_transfers_and_sees_the_new_balance(
        page: Any, live_server: dict[str, Any], shots: Path) -> None:
    base, demo = live_server["url"], live_server["demo"]
    sign_in(page, base, "jianhe")
    page.wait_for_url(f"{base}/account")
    seller = demo["accounts"]["jianhe_centre"]
    cell = page.locator(f"[data-balance='{seller}-FCS']")
    before = float(cell.inner_text().split()[0])  # "19640.96 tCO2e"
    page.fill("input[name=to_account]", str(demo["accounts"]["defendant"]))
    page.fill("input[name=quantity]", "10.50")
    page.click("form[action='/account/transfer'] button[type=submit]")
    page.wait_for_selector("#message")
    after = float(page.locator(f"[data-balance='{seller}-FCS']").inner_text().split()[0])
    assert round(before - after, 2) == 10.50
    page.screenshot(path=str(shots / "account.png"), full_page=True)
