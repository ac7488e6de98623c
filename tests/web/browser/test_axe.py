"""Accessibility: axe-core (axe-playwright-python) on every public page and every role's
desk, with the demo data; no serious or critical violation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.browser.test_journeys import sign_in
from tests.web.test_i18n_walk import walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]
FAILING = {"serious", "critical"}


def violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in results.response["violations"] if v.get("impact") in FAILING]


def test_no_serious_violation_on_any_page_or_desk(browser: Any,
                                                 live_server: dict[str, Any]) -> None:
    base, made = live_server["url"], live_server["demo"]
    found: list[str] = []
    for who, paths in walk(made).items():
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        if who is not None:
            sign_in(page, base, who)
            page.wait_for_url(lambda url: "/login" not in url)
        # Every page in Chinese, the default; the verification page (the one a QR code
        # opens) and the dashboard in English as well, for the other `lang`.
        for lang in (("zh", "en") if who is None else ("zh",)):
            for path in paths if lang == "zh" else [p for p in paths
                                                     if p == "/" or p.startswith("/verify?")]:
                answer = page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
                assert answer is not None and answer.status == 200, (who, path)
                assert path == "/login" or "/login" not in page.url, (who, path)  # signed in
                found += [f"{who or 'public'} {path} {lang}: {v}" for v in violations(page)]
        context.close()
    assert not found, "\n".join(found)
