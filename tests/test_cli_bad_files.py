"""Every command that reads a person's file refuses a bad one in a clear bilingual line:
exit non-zero, the problem named, no traceback, nothing written to the database.

The bad files are the ones people really hand in: empty, GBK or binary bytes where UTF-8
is read, broken or endlessly nested JSON, a table with the wrong columns or a field past
csv's size limit, a CSV named .xlsx, a folder, a missing path; and for a burned area,
GeoJSON that is not a polygon (an empty collection, points, lines, a projected CRS)."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.db.engine import make_engine, make_session_factory
from tests.conftest import fresh_sqlite_file
from tests.forestry.test_monitoring import OPERATOR, import_two, owned_project
from tests.forestry.test_reversals import fire_case
from tests.methods.test_forest_method import OVERRIDE

runner = CliRunner()
POLYGON = {"type": "Polygon", "coordinates": [
    [[108.60, 26.40], [108.601, 26.40], [108.601, 26.401], [108.60, 26.401], [108.60, 26.40]]]}
POINT = {"type": "Point", "coordinates": [108.6, 26.4]}
LINE = {"type": "LineString", "coordinates": [[108.6, 26.4], [108.7, 26.5]]}


def _collection(*geometries: Any, **extra: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", **extra, "features": [
        {"type": "Feature", "properties": {}, "geometry": g} for g in geometries]}).encode()


# name -> content; None: a folder of that name; absent from the folder: a missing path
FILES: dict[str, bytes | None] = {
    "empty.geojson": b"",
    "gbk.geojson": '{"type": "Polygon", "名称": "过火"}'.encode("gbk"),
    "binary.geojson": bytes(range(256)) * 4,
    "broken.geojson": b'{"type": "Polyg',
    "deep.geojson": b"[" * 100_000 + b"]" * 100_000,
    "null.geojson": b"null",
    "list.geojson": json.dumps([POLYGON]).encode(),
    "fc_empty.geojson": _collection(),
    "fc_points.geojson": _collection(POINT),
    "fc_line.geojson": _collection(POLYGON, LINE),
    "fc_projected.geojson": _collection(
        {"type": "Polygon", "coordinates": [[[500000, 2920000], [500100, 2920000],
                                             [500100, 2920100], [500000, 2920000]]]},
        crs={"type": "name", "properties": {"name": "EPSG:4547"}}),
    "folder.geojson": None,
    "empty.csv": b"",
    "wrong_columns.csv": b"a,b\n1,2\n",
    "huge_field.csv": b'number\n"' + b"x" * 200_000 + b'"\n',
    "huge_parameter.csv": b"species,parameter,value,unit,source,valid_from,valid_to,status\n"
                          b'"' + b"x" * 200_000 + b'"\n',
    "binary.csv": b"\x00\xff" * 600,
    "csv_named.xlsx": b"filing_code,month,kwh\nX,2026-01,1\n",
    "folder.csv": None,
    "empty.json": b"",
    "gbk.json": '{"名称": "协议"}'.encode("gbk"),
    "deep.json": b"[" * 100_000 + b"]" * 100_000,
    "list.json": b"[1, 2]",
    "checkpoint_list.json": b"[1, 2]",
    "folder.json": None,
    "jwks.json": b'{"keys": [{"kty": "RSA", "n": "AQAB"}]}',
    "key.pem": b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
}


@pytest.fixture(scope="module")
def base_database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with two parcels (ids 1, 2) and an open fire case (id 1), made once."""
    folder = tmp_path_factory.mktemp("bad-files-base")
    url = fresh_sqlite_file(sqlite_template, folder)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        project, _ = owned_project(session)
        assert project == 1
        import_two(session, folder, project)
        assert fire_case(session) == 1
    engine.dispose()
    with sqlite3.connect(folder / "qinglu.db") as conn:  # one file to copy, no WAL beside
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / "qinglu.db"


@pytest.fixture
def database(base_database: Path, tmp_path: Path) -> str:
    return fresh_sqlite_file(base_database, tmp_path, "test.db")


@pytest.fixture
def files(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "given"
    folder.mkdir()
    for name, content in FILES.items():
        if content is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(content)
    (folder / "measured.csv").write_text("number,volume_end\n12-1,6.0\n12-2,6.4\n",
                                         encoding="utf-8")
    yield folder


def row_counts(url: str) -> dict[str, int]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def flat(output: str) -> str:
    """The output as one line: rich's boxes and wrapping taken out."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


SUBMIT = ["monitoring", "submit", "--project", "1", "--start", "2024-01-01", "--end",
          "2025-12-31", "--baseline", "5", "--leakage", "0", "--risk", "low"]
REVERSAL = ["monitoring", "reversal", "1", "--geojson", "{}"]
FIRE = ["fire", "estimate", "--vegetation", "extra_tropical_forest", "--geojson", "{}"]
ACCOUNT = ["case", "account", "1", "--vegetation", "extra_tropical_forest", "--geojson", "{}"]

CASES: list[tuple[list[str], str, str]] = [
    # (command, the file, what the message must say)
    *[(command, name, named) for command in (REVERSAL, FIRE, ACCOUNT) for name, named in [
        ("empty.geojson", "empty.geojson is empty"),
        ("gbk.geojson", "gbk.geojson is not UTF-8 text"),
        ("binary.geojson", "binary.geojson is not UTF-8 text"),
        ("broken.geojson", "broken.geojson is not valid JSON (line 1, column 10"),
        ("deep.geojson", "deep.geojson nests too deeply"),
        ("null.geojson", "null.geojson holds only null"),
        ("list.geojson", "not an array"),
        ("fc_empty.geojson", "is an empty FeatureCollection"),
        ("fc_points.geojson", "(feature 1) is a Point, not a polygon"),
        ("fc_line.geojson", "(feature 2) is a LineString, not a polygon"),
        ("fc_projected.geojson", "is in EPSG:4547, not longitude/latitude"),
        ("folder.geojson", "is a directory"),
        ("missing.geojson", "does not exist"),
    ]],
    (["parcel", "import", "{}", "--project", "1"], "list.geojson",
     "must be a GeoJSON FeatureCollection"),
    (["parcel", "import", "{}", "--project", "1"], "fc_empty.geojson", "holds no parcels"),
    (["parcel", "import", "{}", "--project", "1"], "gbk.geojson", "not UTF-8 text"),
    (["parcel", "import", "{}", "--project", "1"], "folder.geojson", "is a directory"),
    (["fire", "estimate", "--input", "{}"], "empty.csv", "empty.csv holds no fires"),
    (["fire", "estimate", "--input", "{}"], "wrong_columns.csv",
     "lacks the column(s) area, unit, vegetation"),
    (["fire", "estimate", "--input", "{}"], "huge_field.csv", "field larger than field limit"),
    (["fire", "estimate", "--input", "{}"], "folder.csv", "is a directory"),
    ([*SUBMIT, "--measurements", "{measured.csv}", "--parameters", "{}"], "wrong_columns.csv",
     "missing columns"),
    ([*SUBMIT, "--measurements", "{measured.csv}", "--parameters", "{}"], "huge_parameter.csv",
     "not a CSV table: field larger than field limit"),
    ([*SUBMIT, "--measurements", "{measured.csv}", "--parameters", "{}"], "binary.csv",
     "use UTF-8 or GBK"),
    ([*SUBMIT, "--measurements", "{measured.csv}", "--parameters", "{}"], "folder.csv",
     "is a directory"),
    (["gec", "import", "{}"], "huge_field.csv", "is not a readable CSV table"),
    (["gec", "import", "{}"], "csv_named.xlsx", "not an xlsx (zip) file"),
    (["gec", "import", "{}"], "folder.csv", "is a directory"),
    (["basin", "import", "{}", "--basin", "chishui"], "folder.csv", "is a directory"),
    (["basin", "agreement", "{}"], "list.json", "must be a JSON object"),
    (["basin", "agreement", "{}"], "gbk.json", "gbk.json is not UTF-8 text"),
    (["basin", "agreement", "{}"], "folder.json", "is a directory"),
    (["import", "{}", "--holder", "1"], "deep.json", "deep.json nests too deeply"),
    (["import", "{}", "--holder", "1"], "empty.json", "empty.json is empty"),
    (["certificate", "verify", "--offline", "QL1:X", "--key", "{}"], "key.pem",
     "not a PEM public key"),
    (["certificate", "verify", "--offline", "QL1:X", "--key", "{}"], "jwks.json",
     "holds no Ed25519 key"),
    (["certificate", "verify", "--offline", "QL1:X", "--key", "{}"], "folder.json",
     "is a directory"),
    (["audit", "verify", "--checkpoint", "{}"], "gbk.json", "not UTF-8 text"),
    (["audit", "verify", "--checkpoint", "{}"], "checkpoint_list.json",
     "a checkpoint is malformed"),
    (["audit", "verify", "--checkpoint", "{}"], "empty.json", "holds no checkpoint"),
    (["audit", "verify", "--against", "{}"], "missing.json", "neither a file nor a URL"),
]


@pytest.mark.parametrize(("command", "name", "named"), CASES,
                         ids=[f"{' '.join(c[:2])}-{n}" for c, n, _ in CASES])
def test_a_bad_file_is_refused_in_words(database: str, files: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, command: list[str],
                                        name: str, named: str) -> None:
    monkeypatch.setenv("QINGLU_ACTOR", OPERATOR)
    args = [str(files / name) if part == "{}" else
            str(files / part[1:-1]) if part.startswith("{") else part for part in command]
    if command[:2] == ["fire", "estimate"] and "--input" in command:
        args += ["--output", str(tmp_path / "results.csv")]
    before = row_counts(database)
    result = runner.invoke(app, [*args, "--db", database] if command[0] != "fire" else args)
    shown = flat(result.output)
    assert result.exit_code != 0, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    assert named in shown, shown
    after = row_counts(database)
    if command[0] == "audit":  # an audit records the head it verified, file or no file
        before.pop("audit_heads"), after.pop("audit_heads")
    assert after == before
    assert not (tmp_path / "results.csv").exists()


def test_a_refusal_is_chinese_first(database: str, files: Path) -> None:
    result = runner.invoke(app, [*REVERSAL[:-1], str(files / "fc_points.geojson"),
                                 "--db", database])
    shown = flat(result.output)
    assert "过火范围的第 1 个要素是 Point，不是面" in shown
    assert shown.index("过火范围") < shown.index("the burned area")


def test_what_people_hand_in_is_read(database: str, files: Path, tmp_path: Path) -> None:
    """The other side: a FeatureCollection, a UTF-8 BOM, a GBK table from Excel."""
    collection = files / "burned.geojson"
    collection.write_bytes(b"\xef\xbb\xbf" + _collection(POLYGON))
    fire = runner.invoke(app, [*FIRE[:-1], str(collection), "--json"])
    assert fire.exit_code == 0, fire.output
    assert json.loads(fire.stdout)["area_ha"] == pytest.approx(1.105, rel=0.01)
    fires = files / "fires.csv"
    fires.write_bytes("id,area,unit,vegetation\n火场甲,139.2,mu,extra_tropical_forest\n"
                      .encode("gbk"))
    batch = runner.invoke(app, ["fire", "estimate", "--input", str(fires), "--output",
                                str(tmp_path / "out.csv")])
    assert batch.exit_code == 0, batch.output
    assert "火场甲" in (tmp_path / "out.csv").read_text(encoding="utf-8")
    override = files / "params.csv"
    override.write_bytes(OVERRIDE.encode("gbk"))
    submitted = runner.invoke(app, [*SUBMIT, "--measurements", str(files / "measured.csv"),
                                    "--parameters", str(override), "--db", database, "--json"])
    assert submitted.exit_code == 0, submitted.output


def _free_port() -> int:
    """A local port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def missing_page() -> Iterator[str]:
    """A local web server that answers every path with 404."""
    server = HTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/ledger/checkpoints"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("source", ["unreachable", "not-found", "ftp"])
def test_an_unreachable_checkpoints_url_is_refused_in_one_line(
        database: str, missing_page: str, source: str) -> None:
    url = {"unreachable": f"http://127.0.0.1:{_free_port()}/",
           "not-found": missing_page,
           "ftp": "ftp://127.0.0.1/checkpoints.json"}[source]
    before = row_counts(database)
    result = runner.invoke(app, ["audit", "verify", "--against", url, "--db", database])
    shown = flat(result.output)
    assert result.exit_code == 1, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    zh, en = ("无法取得", "cannot fetch") if source == "not-found" else ("无法连接", "cannot reach")
    assert f"{zh} {url}" in shown and f"{en} {url}:" in shown, shown
    assert shown.index(zh) < shown.index(en)
    if source == "unreachable":
        assert "refused" in shown.lower(), shown  # the reason itself, not only "failed"
    if source == "not-found":
        assert "HTTP 404 Not Found" in shown, shown
    assert row_counts(database) == before
