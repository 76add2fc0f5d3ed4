"""`superstore web token create|list|revoke`: API tokens for scripts and BI tools."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from superstore.settings import Settings

if TYPE_CHECKING:
    from superstore.web.tokens import TokenStore

__all__ = ["app"]

app = typer.Typer(help="Dashboard access: API tokens.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens (Authorization: Bearer ...), stored hashed.", no_args_is_help=True
)
app.add_typer(token_app, name="token")
console = Console(stderr=True)


def _store(settings: Settings) -> TokenStore:
    # lazy: superstore.web loads DuckDB and the app; a token command needs neither
    from superstore.web.tokens import TokenStore

    return TokenStore.from_settings(settings)


@token_app.command("create")
def create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="viewer, analyst or admin."),
    regions: list[str] = typer.Option(
        [], "--regions", help="Only these regions' rows (repeat or comma-separate)."
    ),
    states: list[str] = typer.Option(
        [], "--states", help="Only these states' rows (repeat or comma-separate)."
    ),
    name: str = typer.Option("", "--name", help="A label for `list` and the logs."),
) -> None:
    """Create a token and print it once (only its hash is kept)."""
    split = [v.strip() for item in regions for v in item.split(",")]
    split_states = [v.strip() for item in states for v in item.split(",")]
    token, record = _store(ctx.obj).create(role, name, tuple(split), tuple(split_states))
    console.print(
        f"[green]✓[/] token {record.id} ({record.name}): role {record.role}, "
        f"rows: {record.scope.describe()}. Shown once; keep it secret."
    )
    typer.echo(token)


@token_app.command("list")
def list_tokens(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON document."),
) -> None:
    """The live tokens: id, name, role, row scope, creation time (never the token)."""
    records = _store(ctx.obj).list()
    if as_json:
        typer.echo(json.dumps([r.public() for r in records], indent=2))
        return
    if not records:
        console.print("no tokens: `superstore web token create --role analyst` makes one")
    for r in records:
        typer.echo(f"{r.id}  {r.name}  {r.role}  {r.scope.describe()}  {r.created_at}")


@token_app.command("revoke")
def revoke(
    ctx: typer.Context, token_id: str = typer.Argument(..., help="The token's id or name.")
) -> None:
    """Delete a token: it stops working at the next request."""
    record = _store(ctx.obj).revoke(token_id)
    console.print(f"[green]✓[/] revoked token {record.id} ({record.name})")
