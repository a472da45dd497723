"""``citylink keys …``: readers' API keys — for a department, for district staff, for admins, for a staff
account (``--user``: the key reads as the account does, and stops when it is disabled)."""
from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from ..clock import iso
from ..errors import CityLinkError
from . import app, console, fail, platform

keys_app = typer.Typer(no_args_is_help=True, help="Readers' API keys: create, list, revoke.")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(ctx: typer.Context,
           holder: Optional[str] = typer.Option(None, "--holder",
                                                help="Who the key is for (a person, a department's system); "
                                                     "with --user, the account's name by default."),
           user: Optional[str] = typer.Option(None, "--user", help="The staff account the key belongs to "
                                                                   "(citylink users add)."),
           department: Optional[str] = typer.Option(None, "--department",
                                                    help="The department it reads for: its internal and restricted data."),
           scope: List[str] = typer.Option([], "--scope", help="public (what anyone reads, as a known "
                                                               "reader), staff (every department's internal data) or "
                                                               "admin; repeat for several.")):
    """Make a key.  Only its hash is kept: copy it now."""
    p = platform(ctx, start=False)
    p.reload(force=True)
    try:
        row, key = p.issue_api_key(holder, department, scope, user=user)
    except CityLinkError as e:
        p.store.close()
        fail(str(e), 2)
    p.store.close()
    print(key)


@keys_app.command("list")
def list_keys(ctx: typer.Context):
    """Every key made, revoked ones included (never the keys themselves)."""
    p = platform(ctx, start=False)
    t = Table("id", "holder", "department", "scopes", "created (UTC)", "revoked (UTC)", "user")
    for k in p.store.api_keys():
        t.add_row(k.id, k.holder, k.department or "", " ".join(k.scopes), iso(k.created_at),
                  iso(k.revoked_at) if k.revoked_at else "", k.user or "")
    p.store.close()
    console.print(t)


@keys_app.command("revoke")
def revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="The key's id, as `citylink keys list` shows.")):
    """Revoke a key: every process refuses it within seconds."""
    p = platform(ctx, start=False)
    done = p.store.revoke_api_key(key_id, p.clock.now_us())
    p.store.close()
    if not done:
        fail(f"key_id: no unrevoked key has the id {key_id!r} (see `citylink keys list`)", 2)
    print(f"revoked {key_id}")
