"""A live server with the demo data, and headless Debian Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qinglu.accounts import actions as accounts
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.demo import load_demo
from tests.conftest import fresh_sqlite_file
from tests.live import serving

CHROMIUM = os.environ.get("QINGLU_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"


# Package scope: Playwright's sync API keeps an event loop running in the main thread
# while it is open; closed after the browser tests, later tests may start loops of their own.
@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory,
                sqlite_template: Path) -> Iterator[dict[str, Any]]:
    url = fresh_sqlite_file(sqlite_template, tmp_path_factory.mktemp("browser"))
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        made = load_demo(session)
        accounts.add_user(session, name="majiang", role="authority", password=PASSWORD,
                          holder_id=made["holders"]["majiang_procuratorate"])
        accounts.add_user(session, name="jianhe", role="holder", password=PASSWORD,
                          holder_id=made["holders"]["jianhe_centre"])
        accounts.add_user(session, name="company", role="holder", password=PASSWORD,
                          holder_id=made["holders"]["company"])
        accounts.add_user(session, name="op", role="operator", password=PASSWORD)
        accounts.add_user(session, name="ver", role="verifier", password=PASSWORD)
    engine.dispose()
    with serving(url) as base:
        yield {"url": base, "demo": made}


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing")
        pytest.skip(f"NOTICE: browser tests skipped: no Chromium at {CHROMIUM} "
                    "(apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """The test's output folder for screenshots."""
    path = Path(__file__).resolve().parents[3] / "test-output" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path
