"""Backups of the whole database, and restoring one.

SQLite: the online backup API copies a consistent snapshot while the server keeps
serving (a plain file copy of a WAL database can catch it half-written). PostgreSQL:
`pg_dump` in its custom format and `pg_restore --clean`, from the PATH (Debian's
`postgresql-client`); a clear refusal where they are absent.

What is not in the database is not in the backup: the registry's signing key and the
web secret live under var/ (QINGLU_VAR_DIR) and must be kept, separately and safely;
see docs/operations.md."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from qinglu.core.errors import InvalidInput, QingluError
from qinglu.db.engine import default_database_url

KEYS_WARNING = ("签名密钥与网站密钥（var/ 下）不在备份内，请另行妥善保管",
                "the signing key and web secret (under var/) are not in the backup; "
                "keep them separately and safely")


class BackupFailed(QingluError):
    status = 500
    code = "backup-failed"


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInput("内存数据库无法备份", "an in-memory database cannot be backed up")
    return Path(parsed.database)


def backup(target: Path, url: str | None = None) -> dict[str, str]:
    """Write a consistent copy of the database to `target`."""
    url = url or default_database_url()
    source = _sqlite_path(url)
    if source is not None:
        if not source.exists():
            raise InvalidInput(f"数据库 {source} 不存在", f"database {source} does not exist")
        target.unlink(missing_ok=True)
        with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
            live.backup(copy)
        target.chmod(0o600)
    else:
        _run_pg(["pg_dump", "--format=custom", "--no-owner", f"--file={target}",
                 _libpq_url(url)])
        target.chmod(0o600)
    return {"backup": str(target), "warning": f"{KEYS_WARNING[0]} / {KEYS_WARNING[1]}"}


def restore(source: Path, url: str | None = None) -> dict[str, str]:
    """Replace the database's contents with the backup's. Stop the server first."""
    url = url or default_database_url()
    if not source.exists():
        raise InvalidInput(f"备份 {source} 不存在", f"backup {source} does not exist")
    target = _sqlite_path(url)
    if target is not None:
        _check_sqlite_backup(source)
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as copy:
            target.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            with sqlite3.connect(target) as live:
                copy.backup(live)
    else:
        _run_pg(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                 f"--dbname={_libpq_url(url)}", str(source)])
    return {"restored": str(source), "database": make_url(url).render_as_string()}


SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every Qinglu database has: a file without them is not a backup of one.
REQUIRED_TABLES = ("alembic_version", "ledger_entries", "unit_blocks")


def _check_sqlite_backup(source: Path) -> None:
    """Refuse, before the live database is touched, anything that is not a sound SQLite
    copy of a Qinglu database: a folder, an empty or foreign file, a damaged copy, or
    another application's database (restoring it would replace the registry with it)."""
    if not source.is_file():
        raise InvalidInput(f"备份 {source} 不是文件", f"backup {source} is not a file")
    with source.open("rb") as head:
        if head.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise InvalidInput(f"{source} 不是 SQLite 备份文件（可能为空，或不是 qinglu "
                               "backup 所写）",
                               f"{source} is not a SQLite backup (empty, or not written by "
                               "qinglu backup)")
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as copy:
            if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise InvalidInput("备份文件已损坏", "the backup file is damaged")
            tables = {row[0] for row in copy.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"备份文件无法读取：{exc}",
                           f"the backup cannot be read: {exc}") from None
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise InvalidInput(f"{source} 不是青绿数据库的备份（缺少表 {', '.join(missing)}）",
                           f"{source} is not a backup of a Qinglu database (no table "
                           f"{', '.join(missing)})")


def _libpq_url(url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (no `+driver`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run_pg(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupFailed(
            f"找不到 {command[0]}：请安装 PostgreSQL 客户端（apt-get install postgresql-client）",
            f"{command[0]} not found: install the PostgreSQL client "
            "(apt-get install postgresql-client)")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["?"])[-1][:300]
        raise BackupFailed(f"{command[0]} 失败：{detail}", f"{command[0]} failed: {detail}")
