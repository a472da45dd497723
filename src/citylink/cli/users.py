"""``citylink users …``: staff accounts — a person of a department (or district-wide staff) with the same
scopes as an API key; the dashboard signs them in with their password."""
from __future__ import annotations

import sys
from typing import List, Optional

import typer
from rich.table import Table

from ..clock import iso
from ..errors import CityLinkError
from . import app, console, fail, platform

users_app = typer.Typer(no_args_is_help=True, help="Staff accounts: add, list, disable.")
app.add_typer(users_app, name="users")


@users_app.command("add")
def add(ctx: typer.Context,
        login: str = typer.Argument(..., help="The sign-in name (lower-case letters, digits, '.', '_', '-')."),
        name: str = typer.Option(..., "--name", help="Whose account it is."),
        department: Optional[str] = typer.Option(None, "--department",
                                                 help="The department the person works for (departments.yaml)."),
        scope: List[str] = typer.Option([], "--scope", help="staff (every department's internal data) or admin; "
                                                            "repeat for both."),
        password_stdin: bool = typer.Option(False, "--password-stdin",
                                            help="Read the password from standard input (one line) instead of "
                                                 "asking for it."),
        no_password: bool = typer.Option(False, "--no-password",
                                         help="No password: the account may hold API keys but not sign in.")):
    """Add an account.  Its password is asked for (twice) unless given on standard input; only its Argon2
    hash is kept."""
    if password_stdin and no_password:
        fail("--password-stdin, --no-password: give one or the other", 2)
    p = platform(ctx, start=False)
    p.reload(force=True)
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not no_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        row = p.add_user(login, name, department, scope, password)
    except CityLinkError as e:
        p.store.close()
        fail(str(e), 2)
    p.store.close()
    print(f"added {row.login}")


@users_app.command("list")
def list_users(ctx: typer.Context):
    """Every account, disabled ones included (never their passwords)."""
    p = platform(ctx, start=False)
    t = Table("login", "name", "department", "scopes", "password", "created (UTC)", "disabled (UTC)")
    for u in p.store.users():
        t.add_row(u.login, u.name, u.department or "", " ".join(u.scopes), "yes" if u.has_password else "no",
                  iso(u.created_at), iso(u.disabled_at) if u.disabled_at else "")
    p.store.close()
    console.print(t)


@users_app.command("disable")
def disable(ctx: typer.Context, login: str = typer.Argument(..., help="The account's login.")):
    """Disable an account: it cannot sign in, and its API keys are refused by every process within seconds.
    It stays listed, with its login, for the audit log."""
    p = platform(ctx, start=False)
    done = p.store.disable_user(login, p.clock.now_us())
    p.store.close()
    if not done:
        fail(f"login: no enabled account {login!r} (see `citylink users list`)", 2)
    print(f"disabled {login}")
