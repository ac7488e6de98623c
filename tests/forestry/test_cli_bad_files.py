"""A file no reader can read is refused in one line naming it, with a non-zero exit and
nothing written: no traceback from pyogrio, json, openpyxl or csv reaches the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from qinglu.cli import app

runner = CliRunner()


def _files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "broken.shp": b"not a shapefile",
        "broken.geojson": b'{"type": "FeatureCollection", "features": [',
        "broken.xlsx": b"PK\x03\x04 not a workbook",
        "huge.csv": b'number\n"' + b"x" * 200_000 + b'"\n',  # past csv's field limit
        "latin1.csv": "number,dbh_cm,height_m\nT-1,12,8\xe9\n".encode("latin-1"),
        "ok.geojson": b'{"type": "FeatureCollection", "features": []}',
    }
    for name, content in made.items():
        (tmp_path / name).write_bytes(content)
    return {name: tmp_path / name for name in made}


@pytest.mark.parametrize(("command", "named"), [
    (["parcel", "import", "{broken.shp}", "--project", "1"], "broken.shp"),
    (["parcel", "import", "{broken.geojson}", "--project", "1"], "broken.geojson"),
    (["parcel", "import", "{ok.geojson}", "--project", "1", "--attributes", "{broken.xlsx}"],
     "Excel"),
    (["parcel", "import", "{ok.geojson}", "--project", "1", "--attributes", "{huge.csv}"],
     "huge.csv"),
    (["parcel", "import", "{broken.shp}", "--project", "1", "--encoding", "no-such-codec"],
     "broken.shp"),
    (["tree", "sink", "--project", "1", "--year", "2026", "--measurements", "{latin1.csv}"],
     "latin1.csv"),
])
def test_an_unreadable_file_is_one_line(sqlite_database_url: str, tmp_path: Path,
                                        command: list[str], named: str) -> None:
    files = _files(tmp_path)
    args = [files[part[1:-1]].as_posix() if part.startswith("{") else part
            for part in command]
    result = runner.invoke(app, [*args, "--db", sqlite_database_url])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output and named in lines[0]
    engine = create_engine(sqlite_database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
    engine.dispose()
