"""Schemathesis against /openapi.json (bounded): no 5xx, and responses match the schema."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qinglu.accounts import actions as accounts
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.demo import load_demo
from qinglu.web.app import create_app

pytestmark = pytest.mark.slow

_state: dict[str, Any] = {}
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance)


def _app(tmp: Path) -> Any:
    url = f"sqlite:///{tmp / 'schemathesis.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        load_demo(session)
        user = accounts.add_user(session, name="op", role="operator", password="schema password")
        _state["token"] = accounts.issue_token(session, user)
    engine.dispose()
    return create_app(url)


# Built at import, as schemathesis parametrises at collection time; the database
# lives in a temporary folder of its own.
schema = schemathesis.openapi.from_asgi("/openapi.json",
                                        _app(Path(tempfile.mkdtemp(prefix="qinglu-st-"))))


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: Any) -> None:
    # The issue's contract: no 5xx, documented status codes and content types, and
    # bodies that match their schema (not schemathesis's stricter "accept all valid").
    case.call_and_validate(headers={"Authorization": f"Bearer {_state['token']}"},
                           checks=CHECKS)
