"""`qinglu user ...`: people who sign in to the web UI and the API."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from qinglu.accounts import actions as accounts
from qinglu.cli_common import DbOption, JsonOption, emit, fail, handle_errors, session_for

app = typer.Typer(help="用户 Users and roles", no_args_is_help=True)


@app.command("add")
@handle_errors
def add(
    name: Annotated[str, typer.Argument(help="用户名 / user name")],
    role: Annotated[str, typer.Option("--role", help="operator | verifier | authority | holder")],
    holder: Annotated[int | None, typer.Option("--holder", help="关联持有人 / holder id")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="从标准输入读取密码 / read the password from stdin")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """添加用户 Add a user with a role (the password comes on stdin, never as an argument)."""
    if not password_stdin:
        raise fail("请用 --password-stdin 提供密码 / give the password with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    with session_for(db) as session:
        user = accounts.add_user(session, name=name, role=role, password=password,
                                holder_id=holder)
        emit(accounts.user_view(user), as_json, "用户 User")
