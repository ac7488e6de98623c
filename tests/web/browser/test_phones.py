"""Phones first: the verification page, serial search and market read at 360 px: no
page-wide sideways scrolling, no word or short Chinese label broken across lines
("编/号", "FC/S", "sett/led"), a certificate's facts each label above its value.
Screenshots in test-output/<test>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.test_journeys import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}

# Words in cells, labels, buttons and headings that wrap onto a second line. A "word" is
# a run of Latin letters and digits or of Chinese characters, up to 12 long (a longer
# run may wrap, as prose does): a serial wraps after its hyphens only; codes and hashes
# may wrap anywhere.
BROKEN_WORDS = """() => {
  const broken = [];
  const root = document.querySelector('main');
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || !el.closest('th, td, label, button, h1, h2, .label, .serial')) continue;
    if (el.closest('code, pre, script, style, option, [hidden]')) continue;
    if (!el.getClientRects().length) continue;
    const re = /[A-Za-z0-9]{2,12}|[\\u4e00-\\u9fff]{2,12}/g;
    let m;
    while ((m = re.exec(node.textContent))) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                           .map(r => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0] + ' in <' + el.tagName.toLowerCase() + '>');
    }
  }
  return broken;
}"""
SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"
# Cells of a table shown as cards whose content is cut off at the card's edge.
CUT = """() => [...document.querySelectorAll('table.stack td')]
  .filter(td => td.getClientRects().length && td.scrollWidth > td.clientWidth + 1)
  .map(td => td.textContent.trim().slice(0, 40))"""


def read_well(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert page.evaluate(SIDEWAYS) <= 0, f"{name}: the page scrolls sideways at 360 px"
    assert page.evaluate(BROKEN_WORDS) == [], name
    assert page.evaluate(CUT) == [], name


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_public_pages_read_well_on_a_phone(phone: Any, live_server: dict[str, Any],
                                           shots: Path, lang: str) -> None:
    base, demo = live_server["url"], live_server["demo"]
    majiang = demo["cases"]["majiang"]
    phone.goto(f"{base}/verify?number={majiang['certificate_number']}&lang={lang}")
    assert phone.locator("#verdict").get_attribute("data-valid") == "true"
    read_well(phone, shots, f"verify-{lang}")
    # Each fact's label sits above its value, not beside it one character a line.
    label, value = phone.locator("#facts th").first, phone.locator("#facts td").first
    label_box, value_box = label.bounding_box(), value.bounding_box()
    assert label_box["y"] + label_box["height"] <= value_box["y"] + 1
    assert label_box["width"] > 200  # the whole width, not a one-character column
    phone.goto(f"{base}/verify/{demo['market']['voucher']}?lang={lang}")
    read_well(phone, shots, f"voucher-{lang}")

    phone.goto(f"{base}/search?serial={majiang['agreement']['serials'][0]}&lang={lang}")
    phone.wait_for_selector("#serial-result")
    read_well(phone, shots, f"search-{lang}")

    phone.goto(f"{base}/market?lang={lang}")
    read_well(phone, shots, f"market-{lang}")
    phone.goto(f"{base}/?lang={lang}")
    read_well(phone, shots, f"dashboard-{lang}")


def test_a_holder_uses_the_market_on_a_phone(phone: Any, live_server: dict[str, Any],
                                             shots: Path) -> None:
    sign_in(phone, live_server["url"], "company")
    phone.goto(f"{live_server['url']}/market")
    read_well(phone, shots, "market-holder")


def test_docs_render_with_no_other_host(browser: Any, live_server: dict[str, Any],
                                        shots: Path) -> None:
    """Swagger UI draws the API at /docs with every request to another host refused."""
    base = live_server["url"]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_here)
    page = context.new_page()
    page.goto(f"{base}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert "Qinglu" in page.locator(".swagger-ui .info").inner_text()
    page.screenshot(path=str(shots / "docs.png"))
    context.close()
    assert elsewhere == []
