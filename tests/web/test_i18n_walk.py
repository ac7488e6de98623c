"""One vocabulary, walked: every page, public and each role's desk, with the demo data, in
Chinese and in English. A page fails when its visible text shows a code of the label table
(or a value of a model's status or kind column) as a bare word, or a time without its zone.

The page list (`walk`) is shared with the browser tests (axe, phones)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qinglu.accounts import actions as accounts
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.demo import load_demo
from qinglu.web.app import create_app
from tests.conftest import fresh_sqlite_file
from tests.core.test_labels import MODEL_CODES

PASSWORD = "correct horse battery"
# Units are written the same in both languages ("t/ha", "亩 mu" beside each other).
UNIT_GROUPS = {"area_unit"}
SERIAL = re.compile(r"\b[A-Z]{2,8}-[A-Z0-9]+(?:-[A-Z0-9]+)+\b")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:?\d{2}|Z)?"
                  r"(?P<after>[^<]{0,30})")


def users(made: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One signed-in person per desk: name -> role and holder."""
    return {
        "majiang": {"role": "authority", "holder_id": made["holders"]["majiang_procuratorate"]},
        "jianhe": {"role": "holder", "holder_id": made["holders"]["jianhe_centre"]},
        "op": {"role": "operator", "holder_id": None},
        "ver": {"role": "verifier", "holder_id": None},
    }


def add_users(session: Any, made: dict[str, Any]) -> None:
    for name, who in users(made).items():
        accounts.add_user(session, name=name, role=who["role"], password=PASSWORD,
                          holder_id=who["holder_id"])


def walk(made: dict[str, Any]) -> dict[str | None, list[str]]:
    """Paths to open, by who is signed in (None: the public)."""
    cases = made["cases"]
    serial = cases["majiang"]["agreement"]["serials"][0]
    case_pages = [f"/cases/{c['id']}" for c in cases.values()]
    basin = made["basins"]["basin"]
    return {
        None: ["/", "/projects", f"/projects/{made['projects']['jianhe']}", "/retirements",
               f"/search?serial={serial}",
               f"/verify?number={cases['majiang']['certificate_number']}",
               f"/verify/{made['market']['voucher']}", "/market", "/green",
               "/ledger/checkpoints", "/login", "/verify"],
        "jianhe": ["/account", "/market", "/green/desk"],
        "majiang": ["/cases", *(f"/cases/{c['id']}" for c in cases.values()
                                if c["authority_holder_id"]
                                == made["holders"]["majiang_procuratorate"])],
        "op": ["/admin", "/cases", *case_pages, "/monitoring", "/trees", "/market",
               "/basins", f"/basins/{basin}"],
        "ver": ["/cases", case_pages[-1], "/monitoring", "/trees"],
    }


class _Visible(HTMLParser):
    """The text a reader sees: no scripts, styles or hidden inputs; placeholders count."""

    SKIP = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        found = dict(attrs)
        if found.get("placeholder") and found.get("type") != "hidden":
            self.parts.append("\n" + str(found["placeholder"]) + "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append("\n" + data.strip() + "\n")


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "".join(parser.parts)


def _codes() -> dict[str, tuple[str, str]]:
    """Every code to look for, with a label that is not the code itself."""
    from qinglu.core.labels import table

    codes: dict[str, tuple[str, str]] = {}
    for (group, code), pair in table().items():
        if group not in UNIT_GROUPS:
            codes.setdefault(code, pair)
    for group, values in MODEL_CODES.items():
        for value in values:
            codes.setdefault(value, table()[(group, value)])
    # Every product the registry has read from its table (an operator's WINDR as well).
    from qinglu.core.quantities import _KNOWN, PRODUCTS

    for spec in (*PRODUCTS.values(), *_KNOWN.values()):
        codes.setdefault(spec.code, (spec.name_zh, spec.name_en))
    return codes


CJK = re.compile(r"[\u4e00-\u9fff]")
SEPARATORS = re.compile(r"[\s()（）,，:：;；→·/]+")


def _code_shaped(code: str) -> bool:
    return "_" in code or code.isupper()


def bare_codes(text: str, lang: str) -> list[str]:
    """Codes standing bare in `text` (one text node a line, as `visible_text` gives it):
    a line that is the code, or a short line of Latin words among which it stands
    ("11 (holding)"), or anywhere when it cannot be a word of prose (FCS,
    forestry_bureau). Free text that merely uses the word (a place "Majiang county", a
    Chinese line with its English gloss) is not a code. In English, labels' own words
    ("forestry carbon sink") are taken out before looking."""
    from qinglu.core.labels import table

    text = SERIAL.sub(" ", text)
    if lang == "en":
        for _zh, en in sorted({p for p in table().values()}, key=lambda p: -len(p[1])):
            text = re.sub(rf"(?<![\w-]){re.escape(en)}(?![\w-])", " ", text)
    # In English a code that is an English word ("civil", "settled") reads as English;
    # only a code no reader would write (FCS, forestry_bureau) is bare there.
    codes = {code for code in _codes() if lang == "zh" or _code_shaped(code)}
    found: set[str] = set()
    for line in text.splitlines():
        tokens = [t for t in SEPARATORS.split(line.strip()) if t]
        words = [t for t in tokens if re.fullmatch(r"[A-Za-z][\w-]*", t)]
        short = not CJK.search(line) and len(words) <= 3
        for token in tokens:
            if token in codes and (short or _code_shaped(token)):
                found.add(token)
    return sorted(found)


def bare_regions(text: str) -> list[str]:
    """GB/T 2260 codes shown as bare numbers, where a place's name belongs."""
    from qinglu.core.regions import regions

    known = regions()
    return sorted({m for m in re.findall(r"(?<![\w.-])\d{6}(?![\w.-])", SERIAL.sub(" ", text))
                   if m in known})


def zoneless_times(text: str) -> list[str]:
    return [m.group(0) for m in TIME.finditer(text) if "UTC+8" not in m.group("after")]


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
              ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("walk")
    url = fresh_sqlite_file(sqlite_template, folder)
    mp = pytest.MonkeyPatch()
    mp.setenv("QINGLU_SECRET", "test-secret")
    mp.setenv("QINGLU_VAR_DIR", str(folder / "var"))
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        made = load_demo(session)
        add_users(session, made)
    engine.dispose()
    try:
        with TestClient(create_app(url)) as client:
            yield client, made
    finally:
        mp.undo()


def sign_in(client: TestClient, name: str | None) -> None:
    client.cookies.clear()
    if name is None:
        return
    login = client.get("/login")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', login.text)
    assert csrf
    done = client.post("/login", data={"username": name, "password": PASSWORD,
                                       "csrf": csrf.group(1)})
    assert done.status_code == 200, done.text[:300]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_speaks_one_language(demo_site: tuple[TestClient, dict[str, Any]],
                                        lang: str) -> None:
    client, made = demo_site
    problems: list[str] = []
    for who, paths in walk(made).items():
        sign_in(client, who)
        for path in paths:
            joiner = "&" if "?" in path else "?"
            page = client.get(f"{path}{joiner}lang={lang}")
            assert page.status_code == 200, (who, path, page.status_code)
            assert f'<html lang="{"en" if lang == "en" else "zh-CN"}"' in page.text
            text = visible_text(page.text)
            if codes := bare_codes(text, lang):
                problems.append(f"{who or 'public'} {path}: bare codes {codes}")
            if places := bare_regions(text):
                problems.append(f"{who or 'public'} {path}: region codes without names {places}")
            if times := zoneless_times(text):
                problems.append(f"{who or 'public'} {path}: times without zone {times}")
    assert not problems, "\n".join(problems)


def test_the_walk_finds_what_it_looks_for() -> None:
    """The detector itself: a bare code and a zoneless time are found, labels are not."""
    assert bare_codes("状态\npending\n产品 FCS", "zh") == ["FCS", "pending"]
    assert bare_codes("11 (holding)\n麻江县某林场 (forest farm, Majiang county)", "zh") \
        == ["holding"]
    assert bare_codes("QL-FCS-522629-P000001-2023-000000000001 已结算", "zh") == []
    assert bare_codes("Kind holding account, status settled", "en") == []
    assert bare_codes("Kind\nFCS", "en") == ["FCS"]
    assert bare_codes("criminal_public_interest", "en") == ["criminal_public_interest"]
    assert zoneless_times("截止 2099-12-31T16:00 ") == ["2099-12-31T16:00 "]
    assert zoneless_times("2026-12-01 08:40 CST (UTC+8)") == []
    assert bare_regions("地区\n522629\nQL-FCS-522629-P000001-2023-000000000001") == ["522629"]
    assert bare_regions("金额 120500 元") == []


@pytest.mark.slow
def test_the_language_switch_keeps_the_page(demo_site: tuple[TestClient, dict[str, Any]]
                                            ) -> None:
    client, made = demo_site
    sign_in(client, None)
    number = made["cases"]["majiang"]["certificate_number"]
    page = client.get("/verify", params={"number": number, "lang": "zh"})
    assert f'href="?number={number}&amp;lang=en"' in page.text
    english = client.get(f"/verify?number={number}&lang=en")
    assert "Valid" in english.text and f'href="?number={number}&amp;lang=zh"' in english.text


@pytest.mark.slow
def test_charts_name_products_and_places(demo_site: tuple[TestClient, dict[str, Any]]
                                         ) -> None:
    """The charts' legends and axes come from data attributes: names, never codes."""
    client, _made = demo_site
    sign_in(client, None)
    def names(lang: str, attribute: str) -> dict[str, str]:
        page = client.get(f"/?lang={lang}").text
        found = re.search(rf"data-{attribute}='([^']*)'", page)
        assert found, attribute
        return dict(json.loads(html.unescape(found.group(1))))

    assert names("zh", "names")["FCS"] == "林业碳汇"
    assert names("en", "names")["FCS"] == "forestry carbon sink"
    assert names("zh", "places")["522629"].startswith("剑河县")
    assert names("en", "places")["522629"].startswith("Jianhe County")
    assert 'data-vwap="加权均价"' in client.get("/?lang=zh").text
