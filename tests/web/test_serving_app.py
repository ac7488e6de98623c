"""The app as `qinglu serve` runs it: what starting made is out of the collector's way."""

from __future__ import annotations

import gc

from qinglu.web.app import create_app, serving_app


def test_the_served_app_is_frozen_out_of_full_collections(sqlite_database_url: str) -> None:
    gc.unfreeze()
    create_app(sqlite_database_url)
    assert gc.get_freeze_count() == 0  # tests' apps: collected as usual
    try:
        serving_app(sqlite_database_url)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
