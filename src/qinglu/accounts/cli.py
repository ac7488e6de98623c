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


UserName = Annotated[str, typer.Argument(help="用户名 / user name")]


@app.command("disable")
@handle_errors
def disable(name: UserName, db: DbOption = None, as_json: JsonOption = False) -> None:
    """停用用户 Disable a user: it cannot sign in, and its tokens are revoked."""
    with session_for(db) as session:
        emit(accounts.set_disabled(session, name, True), as_json, "用户 User")


@app.command("enable")
@handle_errors
def enable(name: UserName, db: DbOption = None, as_json: JsonOption = False) -> None:
    """启用用户 Enable a disabled user again."""
    with session_for(db) as session:
        emit(accounts.set_disabled(session, name, False), as_json, "用户 User")


@app.command("password")
@handle_errors
def password(
    name: UserName,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="从标准输入读取新密码 / read it from stdin")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """修改密码 Set a new password (on stdin); the user's tokens are revoked."""
    if not password_stdin:
        raise fail("请用 --password-stdin 提供密码 / give the password with --password-stdin")
    new = sys.stdin.readline().rstrip("\r\n")
    with session_for(db) as session:
        emit(accounts.change_password(session, name, new), as_json, "用户 User")


tokens_app = typer.Typer(help="令牌 Tokens", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("revoke")
@handle_errors
def revoke(name: UserName, db: DbOption = None, as_json: JsonOption = False) -> None:
    """吊销令牌 Revoke every token of a user (signs it out everywhere)."""
    with session_for(db) as session:
        emit(accounts.revoke_tokens(session, name), as_json, "用户 User")
