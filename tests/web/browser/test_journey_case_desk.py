"""A fire case walked through the desks in Debian Chromium, one person at a time: the
procuratorate's clerk opens and accounts it and records an external report; the verifier
approves the report; the operator agrees, confirms payment, retires and certifies, each
on a confirmation page; the clerk follows the timeline and closes the case; a member of
the public scans the certificate's QR code, decoded from the PDF's image, on a 390 px
phone. Screenshots of each step go to test-output/<test>/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]
zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

NUMBER = "麻检刑公诉〔2026〕案台1号"


def desk(browser: Any, base: str, name: str, **context: Any) -> Any:
    """A browser of its own for each person, signed in."""
    opened = browser.new_context(**({"viewport": {"width": 1200, "height": 900}} | context))
    page = opened.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    return page


def confirm(page: Any, shots: Path, name: str) -> str:
    """On a confirmation page: what it says will happen, then confirmed."""
    page.wait_for_selector("#consequence")
    said = page.locator("#consequence").inner_text()
    page.screenshot(path=str(shots / f"{name}-confirm.png"), full_page=True)
    page.click("#confirm button[type=submit]")
    page.wait_for_selector("#message")
    return str(said)


def pick(page: Any, field: str, typed: str, value: int) -> None:
    """Search as you type, then choose the match (no id is typed)."""
    page.fill(f"input[name={field}]", typed)
    choice = page.locator(f"input[name={field}_pick][value='{value}']")
    choice.wait_for()
    choice.check()


def scan_certificate(page: Any, base: str, number: str, work: Path) -> str:
    """The certificate PDF rendered at 150 dpi and its QR code decoded, as a phone would."""
    pdf = page.request.get(f"{base}/api/v1/certificates/{number}/pdf")
    assert pdf.ok
    (work / "certificate.pdf").write_bytes(pdf.body())
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile",
                    str(work / "certificate.pdf"), str(work / "certificate")], check=True)
    codes = [code for code in zxingcpp.read_barcodes(Image.open(work / "certificate.png"))
             if code.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1
    return str(codes[0].text)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="no pdftoppm")
def test_a_fire_case_from_the_clerk_to_the_public(
        browser: Any, live_server: dict[str, Any], shots: Path, tmp_path: Path) -> None:
    base, demo = live_server["url"], live_server["demo"]

    clerk = desk(browser, base, "majiang")
    clerk.wait_for_url(f"{base}/cases")
    form = clerk.locator("#new-case")
    form.locator("input[name=number]").fill(NUMBER)
    pick(clerk, "defendant", "钟某", demo["holders"]["defendant"])
    form.locator("input[name=incident_date]").fill("2026-03-14")
    form.locator("input[name=place]").fill("麻江县某村田边")
    form.locator("input[name=area]").fill("139,2")  # a decimal comma, as typed
    form.locator("select[name=unit]").select_option("mu")
    form.locator("input[name=fuel_consumed]").fill("３.５")  # a full-width digit
    clerk.screenshot(path=str(shots / "01-clerk-new-case.png"), full_page=True)
    form.locator("button[type=submit]").click()
    clerk.wait_for_selector("#message")
    assert clerk.locator("#obligation").inner_text() == "57.48"
    assert clerk.locator("#report-pdf").count() == 1 and clerk.locator("#emissions").count()
    case_url = clerk.url.split("?")[0]
    clerk.screenshot(path=str(shots / "02-clerk-obligation.png"), full_page=True)
    report = clerk.locator("#record-report")
    report.locator("input[name=firm]").fill("贵州某碳核算有限公司")
    report.locator("input[name=report_ref]").fill("QH-2026-031")
    report.locator("input[name=quantity]").fill("53,96")
    report.locator("button[type=submit]").click()
    clerk.wait_for_selector("#pending-report")

    verifier = desk(browser, base, "ver")
    verifier.goto(case_url)
    verifier.click("#approve-pending button")
    assert "53.96" in confirm(verifier, shots, "03-verifier-approve")
    assert verifier.locator("#obligation").inner_text() == "53.96"

    operator = desk(browser, base, "op")
    operator.goto(case_url)
    agree = operator.locator("#agree")
    assert agree.locator("button").inner_text() == "约定购买 53.96 t"
    pick(operator, "seller_account", "剑河县碳汇", demo["accounts"]["jianhe_centre"])
    agree.locator("input[name=price]").fill("60")
    agree.locator("button").click()
    said = confirm(operator, shots, "04-operator-agree")
    assert "3237.60" in said and "剑河县碳汇交易运营中心" in said
    pay = operator.locator("#pay")
    pay.locator("input[name=reference]").fill("GZ20260314001")
    assert pay.locator("button").inner_text() == "确认付款"
    pay.locator("button").click()
    assert "GZ20260314001" in confirm(operator, shots, "05-operator-pay")
    assert operator.locator("#retire button").inner_text() == "注销 53.96 t"
    operator.click("#retire button")
    assert "不可撤销" in confirm(operator, shots, "06-operator-retire")
    operator.click("#certify button")
    confirm(operator, shots, "07-operator-certify")
    certificate = operator.locator("#documents a").first.get_attribute("href").rsplit("/", 1)[1]

    clerk.goto(case_url)
    timeline = clerk.locator("#timeline li")
    assert timeline.count() == 7  # opened+accounted, report, approval, agree, pay, retire, certify
    assert "北京时间" in clerk.locator("#timeline").inner_text()
    for shown in ("#defendant", "#seller", "#amount", "#payment", "#serials", "#documents"):
        assert clerk.locator(shown).count() == 1, shown
    clerk.screenshot(path=str(shots / "08-clerk-timeline.png"), full_page=True)
    clerk.click("#close button")
    confirm(clerk, shots, "09-clerk-close")
    assert clerk.locator("#status").get_attribute("data-status") == "closed"

    address = scan_certificate(operator, base, certificate, tmp_path)
    assert address.startswith(f"{base}/verify/{certificate}")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                device_scale_factor=2).new_page()
    phone.goto(address)
    assert phone.locator("#verdict").get_attribute("data-valid") == "true"
    facts = phone.content()
    assert "53.96" in facts and "钟某" in facts and NUMBER in facts
    phone.screenshot(path=str(shots / "10-public-verify-phone.png"), full_page=True)
    for opened in (clerk, verifier, operator, phone):
        opened.context.close()
