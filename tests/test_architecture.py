"""The import-linter contracts (`.importlinter`, run by `make lint`) stay complete.

The cross-feature contracts name every module of each feature except those other
features may use (its actions, and the documents' signing key and PDF renderer); a
module added later must be named too, or another feature could reach into it unseen.
"""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("registry", "cases", "market", "forestry", "documents", "accounts", "basins",
            "green", "exports")
OPEN_TO_OTHERS = {"__init__", "actions", "signing", "pdf"}


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return parser


def _modules(feature: str) -> set[str]:
    folder = ROOT / "src" / "qinglu" / feature
    return {f"qinglu.{feature}.{path.stem}" for path in folder.glob("*.py")
            if path.stem not in OPEN_TO_OTHERS}


def test_each_feature_is_closed_to_the_others_but_for_its_actions() -> None:
    contracts = _contracts()
    for feature in FEATURES:
        section = contracts[f"importlinter:contract:{feature}-through-actions"]
        forbidden = set(section["forbidden_modules"].split())
        expected = set().union(*(_modules(other) for other in FEATURES if other != feature))
        assert forbidden == expected, (
            f"{feature}: name in .importlinter {sorted(expected - forbidden)}, "
            f"drop {sorted(forbidden - expected)}")


def test_every_feature_adapter_is_under_the_no_rule_contract() -> None:
    section = _contracts()["importlinter:contract:adapters-hold-no-rule"]
    sources = set(section["source_modules"].split())
    assert {"qinglu.*.api", "qinglu.*.cli", "qinglu.*.pages"} <= sources
    stray = [path for path in (ROOT / "src" / "qinglu").rglob("*.py")
             if path.stem.endswith(("_cli", "_api", "_pages"))]
    assert not stray, f"adapters must be named cli.py, api.py or pages.py: {stray}"
