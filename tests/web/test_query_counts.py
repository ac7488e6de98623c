"""How many SQL statements each public page and read endpoint runs, pinned (as netbox
pins its query counts), on SQLite and PostgreSQL with the demo data: an N+1 that creeps
in changes a count and fails here.

Every GET route of the app is listed from its routes, so a new one fails until it has
a pin (or is named in NO_DATABASE). A statement is one SQLAlchemy cursor execution
(`before_cursor_execute` on every Engine) or one `RawQuery` (the hot reads run on the
driver's cursor; on PostgreSQL, from the event loop). A few routes are asked once before
they are counted (WARM), and what is re-read on a timer is read once. A page that
needs a role is asked as a signed-in user of that role (the count includes the
session's own look-up).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from qinglu.accounts import actions as accounts
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.demo import load_demo
from qinglu.web.app import create_app
from tests.conftest import BACKENDS, PostgresDatabases, fresh_sqlite_file
from tests.statements import counting

pytestmark = pytest.mark.slow

# Routes that never touch the database: FastAPI's documentation pages.
NO_DATABASE = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

# Route -> (the URL asked, with {names} filled from the demo data; who asks).
ROUTES: dict[str, tuple[str, str | None]] = {
    "/health": ("/health", None),
    "/api/v1/certificates/{number}/verify": ("/api/v1/certificates/{certificate}/verify", None),
    "/api/v1/units/{serial}": ("/api/v1/units/{serial}", None),
    "/api/v1/keys": ("/api/v1/keys", None),
    "/api/v1/ledger/checkpoints": ("/api/v1/ledger/checkpoints", None),
    "/api/v1/certificates/{number}": ("/api/v1/certificates/{certificate}", None),
    "/api/v1/certificates/{number}/pdf": ("/api/v1/certificates/{certificate}/pdf", None),
    "/api/v1/ledger/head": ("/api/v1/ledger/head", None),
    "/api/v1/accounts/{account_id}/balance": ("/api/v1/accounts/{account}/balance",
                                              "operator"),
    "/api/v1/projects": ("/api/v1/projects", None),
    "/api/v1/projects/{project_id}": ("/api/v1/projects/{project}", None),
    "/api/v1/products": ("/api/v1/products", None),
    "/api/v1/cases": ("/api/v1/cases", "operator"),
    "/api/v1/cases/{case_id}": ("/api/v1/cases/{case}", "operator"),
    "/api/v1/cases/{case_id}/report.pdf": ("/api/v1/cases/{accounted_case}/report.pdf",
                                           "operator"),
    "/api/v1/monitoring-reports": ("/api/v1/monitoring-reports", "operator"),
    "/api/v1/monitoring-reports/{report_id}": ("/api/v1/monitoring-reports/{report}",
                                               "operator"),
    "/api/v1/monitoring-reports/{report_id}/report.pdf": (
        "/api/v1/monitoring-reports/{report}/report.pdf", "operator"),
    "/api/v1/projects/{project_id}/trees": ("/api/v1/projects/{tree_project}/trees",
                                            "operator"),
    "/api/v1/listings": ("/api/v1/listings", None),
    "/api/v1/listings/{listing_id}": ("/api/v1/listings/{listing}", None),
    "/api/v1/orders": ("/api/v1/orders", "operator"),
    "/api/v1/orders/{order_id}": ("/api/v1/orders/{order}", "operator"),
    "/api/v1/market/prices": ("/api/v1/market/prices", None),
    "/api/v1/market/prices.csv": ("/api/v1/market/prices.csv", None),
    "/api/v1/basins": ("/api/v1/basins?year={year}", "operator"),
    "/api/v1/basins/{code}": ("/api/v1/basins/{basin}?year={year}", "operator"),
    "/api/v1/basin-rule-templates/{rule_set}": (
        "/api/v1/basin-rule-templates/chishui2018_fund?date=2019-06-30", None),
    "/api/v1/basins/{code}/statements": ("/api/v1/basins/{basin}/statements?year={year}",
                                          "operator"),
    "/api/v1/basins/{code}/statements.csv": (
        "/api/v1/basins/{basin}/statements.csv?year={year}", "operator"),
    "/api/v1/basin-statements/{number}": ("/api/v1/basin-statements/{statement}", "operator"),
    "/api/v1/basin-statements/{number}/statement.pdf": (
        "/api/v1/basin-statements/{statement}/statement.pdf", "operator"),
    "/api/v1/basin-statements/{number}/lines.csv": (
        "/api/v1/basin-statements/{statement}/lines.csv", "operator"),
    "/api/v1/basin-statements/{number}/verify": ("/api/v1/basin-statements/{statement}/verify",
                                                 None),
    "/api/v1/gec/serials/{serial}": ("/api/v1/gec/serials/{gec_serial}", None),
    "/api/v1/gec/projects": ("/api/v1/gec/projects", None),
    "/api/v1/claims": ("/api/v1/claims", "operator"),
    "/api/v1/claims/{claim_id}": ("/api/v1/claims/{claim}", "operator"),
    "/api/v1/claims/{claim_id}/pdf": ("/api/v1/claims/{claim}/pdf", "operator"),
    "/": ("/", None),
    "/login": ("/login", None),
    "/projects": ("/projects", None),
    "/projects/{project_id}": ("/projects/{project}", None),
    "/retirements": ("/retirements", None),
    "/search": ("/search?serial={serial}", None),
    "/holders/search": ("/holders/search?q=林", "operator"),
    "/account": ("/account", "holder"),
    "/admin": ("/admin", "operator"),
    "/verify": ("/verify?number={certificate}", None),
    "/verify/{number}": ("/verify/{certificate}", None),
    "/ledger/checkpoints": ("/ledger/checkpoints", None),
    "/cases": ("/cases", "operator"),
    "/cases/{case_id}": ("/cases/{case}", "operator"),
    "/cases/{case_id}/report.pdf": ("/cases/{accounted_case}/report.pdf", "operator"),
    "/basins": ("/basins", "operator"),
    "/basins/statements/{number}": ("/basins/statements/{statement}", "operator"),
    "/basins/statements/{number}/statement.pdf": (
        "/basins/statements/{statement}/statement.pdf", "operator"),
    "/basins/statements/{number}/lines.csv": ("/basins/statements/{statement}/lines.csv",
                                              "operator"),
    "/basins/{code}/statements.csv": ("/basins/{basin}/statements.csv", "operator"),
    "/basins/{code}": ("/basins/{basin}", "operator"),
    "/monitoring": ("/monitoring", "operator"),
    "/monitoring/{report_id}/report.pdf": ("/monitoring/{report}/report.pdf", "operator"),
    "/trees": ("/trees", "operator"),
    "/market": ("/market", None),
    "/green": ("/green", None),
    "/green/desk": ("/green/desk", "holder"),
    "/api/v1/cases/{case_id}/desk": ("/api/v1/cases/{case}/desk", "operator"),
    "/api/v1/exports/cadt.json": ("/api/v1/exports/cadt.json", None),
    "/api/v1/exports/units.csv": ("/api/v1/exports/units.csv", None),
    "/api/v1/log/checkpoint": ("/api/v1/log/checkpoint", None),
    "/api/v1/log/entries": ("/api/v1/log/entries?start=1&end=10", None),
    "/api/v1/log/proof/consistency": ("/api/v1/log/proof/consistency?from=5&to=10", None),
    "/api/v1/log/proof/inclusion": ("/api/v1/log/proof/inclusion?entry=5&size=10", None),
    "/cases/{case_id}/confirm": ("/cases/{case}/confirm?step=agree", "operator"),
    "/metrics": ("/metrics", None),
}
# A read answered with another status than 200: the confirm page of a step whose fields
# are missing shows the case desk with the errors.
STATUS = {"/cases/{case_id}/confirm": 422}
# Routes asked once before they are counted: the first PDF of a process reads the
# registry's key and checkpoint, the checkpoint list makes its first checkpoint. The
# others are counted on their first request (after the fixture's own requests).
WARM = {"/api/v1/certificates/{number}/pdf", "/api/v1/claims/{claim_id}/pdf",
        "/api/v1/ledger/checkpoints"}

# Statements per request: {route: (SQLite, PostgreSQL)}.
PINS: dict[str, tuple[int, int]] = {
    "/": (8, 7),
    "/account": (6, 4),
    "/admin": (6, 4),
    "/api/v1/accounts/{account_id}/balance": (7, 5),
    "/api/v1/basin-rule-templates/{rule_set}": (0, 0),
    "/api/v1/basin-statements/{number}": (7, 5),
    "/api/v1/basin-statements/{number}/lines.csv": (5, 3),
    "/api/v1/basin-statements/{number}/statement.pdf": (8, 6),
    "/api/v1/basin-statements/{number}/verify": (3, 2),
    "/api/v1/basins": (9, 7),
    "/api/v1/basins/{code}": (11, 9),
    "/api/v1/basins/{code}/statements": (11, 9),
    "/api/v1/basins/{code}/statements.csv": (8, 6),
    "/api/v1/cases": (5, 3),
    "/api/v1/cases/{case_id}": (5, 3),
    "/api/v1/cases/{case_id}/desk": (10, 8),
    "/api/v1/cases/{case_id}/report.pdf": (7, 5),
    "/api/v1/certificates/{number}": (2, 1),
    "/api/v1/certificates/{number}/pdf": (6, 5),
    "/api/v1/certificates/{number}/verify": (1, 1),
    "/api/v1/claims": (2, 1),
    "/api/v1/claims/{claim_id}": (2, 1),
    "/api/v1/claims/{claim_id}/pdf": (7, 6),
    "/api/v1/exports/cadt.json": (8, 7),
    "/api/v1/exports/units.csv": (8, 7),
    "/api/v1/gec/projects": (3, 2),
    "/api/v1/gec/serials/{serial}": (0, 0),
    "/api/v1/keys": (0, 0),
    "/api/v1/ledger/checkpoints": (5, 4),
    "/api/v1/ledger/head": (2, 1),
    "/api/v1/listings": (2, 1),
    "/api/v1/listings/{listing_id}": (2, 1),
    "/api/v1/log/checkpoint": (4, 3),
    "/api/v1/log/entries": (2, 1),
    "/api/v1/log/proof/consistency": (4, 3),
    "/api/v1/log/proof/inclusion": (4, 3),
    "/api/v1/market/prices": (3, 2),
    "/api/v1/market/prices.csv": (3, 2),
    "/api/v1/monitoring-reports": (5, 3),
    "/api/v1/monitoring-reports/{report_id}": (5, 3),
    "/api/v1/monitoring-reports/{report_id}/report.pdf": (7, 5),
    "/api/v1/orders": (5, 3),
    "/api/v1/orders/{order_id}": (6, 4),
    "/api/v1/products": (2, 1),
    "/api/v1/projects": (2, 1),
    "/api/v1/projects/{project_id}": (2, 1),
    "/api/v1/projects/{project_id}/trees": (6, 4),
    "/api/v1/units/{serial}": (1, 1),
    "/basins": (9, 7),
    "/basins/statements/{number}": (9, 7),
    "/basins/statements/{number}/lines.csv": (5, 3),
    "/basins/statements/{number}/statement.pdf": (8, 6),
    "/basins/{code}": (11, 9),
    "/basins/{code}/statements.csv": (8, 6),
    "/cases": (5, 3),
    "/cases/{case_id}": (10, 8),
    "/cases/{case_id}/confirm": (10, 8),
    "/cases/{case_id}/report.pdf": (7, 5),
    "/green": (6, 5),
    "/green/desk": (3, 2),
    "/health": (0, 0),
    "/holders/search": (3, 2),
    "/ledger/checkpoints": (5, 4),
    "/login": (0, 0),
    "/market": (4, 3),
    "/metrics": (2, 1),
    "/monitoring": (5, 3),
    "/monitoring/{report_id}/report.pdf": (7, 5),
    "/projects": (4, 3),
    "/projects/{project_id}": (4, 3),
    "/retirements": (2, 1),
    "/search": (2, 1),
    "/trees": (6, 4),
    "/verify": (2, 1),
    "/verify/{number}": (2, 1),
}


def get_routes(app: Any) -> set[str]:
    """Every GET route's path, through included routers (FastAPI keeps them nested)."""
    found: set[str] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            context = getattr(route, "include_context", None)
            if context is not None:
                walk(context.included_router.routes, prefix + context.prefix)
            elif "GET" in (getattr(route, "methods", None) or ()):
                found.add(prefix + route.path)

    walk(app.routes, "")
    return found


@dataclass
class Site:
    backend: str
    clients: dict[str | None, TestClient]
    values: dict[str, Any]

    def get(self, route: str) -> Any:
        url, who = ROUTES[route]
        return self.clients[who].get(url.format(**self.values))


def _login(client: TestClient, name: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf is not None
    response = client.post("/login", data={"username": name, "password": "query counts",
                                           "csrf": csrf.group(1)})
    assert response.status_code == 200, response.text


def _demo_values(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        made = load_demo(session)
        one = lambda sql: session.execute(text(sql)).scalar_one()  # noqa: E731
        holder_account = one("SELECT min(account_id) FROM unit_blocks b JOIN accounts a "
                             "ON a.id = b.account_id WHERE a.kind = 'holding'")
        holder_id = one(f"SELECT holder_id FROM accounts WHERE id = {holder_account}")
        values = {
            "certificate": made["certificates"][0]["number"],
            "serial": made["issuances"][0]["serials"][0],
            "account": holder_account,
            "project": one("SELECT min(id) FROM projects"),
            "tree_project": one("SELECT min(project_id) FROM trees"),
            "case": made["cases"]["majiang"]["id"],
            "report": one("SELECT min(id) FROM monitoring_reports"),
            "listing": one("SELECT min(id) FROM listings"),
            "order": one("SELECT min(id) FROM orders"),
            "basin": one("SELECT min(code) FROM basins"),
            "statement": one("SELECT min(number) FROM basin_settlements"),
            "year": one("SELECT min(year) FROM basin_settlements"),
            "accounted_case": made["cases"]["administrative"]["id"],
            "claim": one("SELECT min(id) FROM green_claims"),
            "gec_serial": "B" * 32,
        }
        operator = accounts.add_user(session, name="op", role="operator",
                                     password="query counts")
        accounts.add_user(session, name="holder", role="holder", password="query counts",
                          holder_id=holder_id)
        values["token"] = accounts.issue_token(session, operator)
    engine.dispose()
    return values


def _steady(patch: pytest.MonkeyPatch) -> None:
    """What is re-read on a timer (product rules every 10 s, the published checkpoint,
    the market's expiry sweep every minute) is read once, so that a count does not
    depend on when the test runs."""
    patch.setenv("QINGLU_SECRET", "query-counts")
    for name in ("qinglu.registry.actions.PRODUCTS_RELOAD_SECONDS",
                 "qinglu.documents.api.CHECKPOINT_SECONDS",
                 "qinglu.web.app.MARKET_SWEEP_SECONDS"):
        patch.setattr(name, 10.0**9)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def site(backend: str, request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    databases: PostgresDatabases | None = None
    if backend == "postgresql":
        databases = request.getfixturevalue("pg_databases")
        url = databases.create()
    else:
        url = fresh_sqlite_file(request.getfixturevalue("sqlite_template"),
                                tmp_path_factory.mktemp("query-counts"))
    with pytest.MonkeyPatch.context() as patch:
        _steady(patch)
        try:
            values = _demo_values(url)
            app = create_app(url)
            clients: dict[str | None, TestClient] = {
                None: TestClient(app),
                "operator": TestClient(app, headers={
                    "Authorization": f"Bearer {values['token']}"}),
                "holder": TestClient(app)}
            for client in clients.values():
                client.__enter__()
            _login(clients["holder"], "holder")
            # Pages read the operator's session cookie, the API its bearer token.
            _login(clients["operator"], "op")
            yield Site(backend, clients, values)
            for client in clients.values():
                client.__exit__(None, None, None)
        finally:
            if databases is not None:
                databases.release(url)


def test_every_get_route_is_pinned(tmp_path: Any) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'routes.db'}")
    routes = get_routes(app)
    assert routes - NO_DATABASE == set(ROUTES), (
        "pin the statement count of a new GET route here (or remove a pin): "
        f"unpinned {sorted(routes - NO_DATABASE - set(ROUTES))}, "
        f"gone {sorted(set(ROUTES) - routes)}")
    assert set(PINS) == set(ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_statements_per_request(site: Site, route: str) -> None:
    status = STATUS.get(route, 200)
    if route in WARM:
        warm = site.get(route)
        assert warm.status_code == status, warm.text[:300]
    with counting() as statements:
        response = site.get(route)
    assert response.status_code == status, response.text[:300]
    expected = PINS[route][BACKENDS.index(site.backend)]
    assert len(statements) == expected, "\n".join(statements)


# The public lists read a page (core.paging), whatever the registry's size: the same
# statements with 3 projects (and 3 power projects) as with 30, and with 2 issuances of a
# project as with 8.
LISTS = ("/projects", "/projects?limit=10", "/api/v1/projects", "/api/v1/projects?limit=10",
         "/projects/{first}", "/projects/{first}?limit=3", "/api/v1/gec/projects",
         "/api/v1/gec/projects?limit=10")


def _registry(session: Any, projects: int, first_issuances: int) -> int:
    """`projects` projects with an issuance each, the first with `first_issuances`, and
    `projects` power projects; the first project's id."""
    from datetime import date

    from qinglu.green import actions as green
    from qinglu.registry import actions as registry
    from tests import factories as f

    account = f.account(session)
    ids = [f.project(session) for _ in range(projects)]
    for index, project in enumerate(ids):
        for vintage in range(first_issuances if index == 0 else 1):
            registry.issue(session, project_id=project, vintage=2000 + vintage, quantity=100,
                           to_account=account, actor="test")
    for index in range(projects):
        code = f"W52000000000{index:04d}X"
        green.register_project(session, "test", name=f"风电场 {code}", filing_code_text=code,
                               technology="wind", commissioned=date(2018, 6, 1),
                               region="520000", account_id=account)
    return ids[0]


def _list_counts(url: str, first: int) -> dict[str, int]:
    counts = {}
    with TestClient(create_app(url)) as client:
        for path in LISTS:
            client.get(path.format(first=first))  # the app's first reads (product rules)
            with counting() as statements:
                response = client.get(path.format(first=first))
            assert response.status_code == 200, response.text[:300]
            counts[path] = len(statements)
    return counts


def test_list_statements_do_not_grow_with_the_registry(
        backend: str, request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    counts = []
    with pytest.MonkeyPatch.context() as patch:
        _steady(patch)
        for projects, issuances in ((3, 2), (30, 8)):
            if backend == "postgresql":
                databases: PostgresDatabases = request.getfixturevalue("pg_databases")
                url = databases.create()
            else:
                url = fresh_sqlite_file(request.getfixturevalue("sqlite_template"),
                                        tmp_path_factory.mktemp("lists"))
            engine = make_engine(url)
            with make_session_factory(engine)() as session:
                first = _registry(session, projects, issuances)
            engine.dispose()
            try:
                counts.append(_list_counts(url, first))
            finally:
                if backend == "postgresql":
                    databases.release(url)
    small, large = counts
    assert small == large
    pages = PINS["/projects"][BACKENDS.index(backend)]
    assert large["/projects"] == large["/projects/{first}"] == pages
    assert large["/api/v1/projects"] == PINS["/api/v1/projects"][BACKENDS.index(backend)]
    assert large["/api/v1/gec/projects"] == large["/api/v1/gec/projects?limit=10"] \
        == PINS["/api/v1/gec/projects"][BACKENDS.index(backend)]
