"""`changemgmt keys create|list|revoke`: the keys of the HTTP API (web/api/keys.py)."""

from __future__ import annotations

import click

from changemgmt.cli.context import AppContext
from changemgmt.domain.roles import Role
from changemgmt.store.db import transaction
from changemgmt.web.api.keys import create_key, list_keys, revoke_key


@click.group("keys")
def keys_group() -> None:
    """API keys: each has a name (recorded as the actor of what it does) and a role."""


@keys_group.command("create")
@click.option("--name", required=True, help="Who or what uses the key, e.g. ticketing or nms-paris.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="viewer: reads; change_manager: also changes GCRs and deliveries; admin: also imports and rotates feeds.",
)
@click.pass_obj
def create_command(app: AppContext, name: str, role: str) -> None:
    """Create a key and print it: it is shown this once, and only its hash is kept."""
    with transaction(app.session_factory()) as session:
        key, secret = create_key(session, name, role, app.actor, app.now())
        click.echo(secret)
        click.echo(f"key {key.name} ({key.role}) created; keep it now, it cannot be shown again", err=True)


@keys_group.command("list")
@click.pass_obj
def list_command(app: AppContext) -> None:
    """List the keys: name, role, prefix, created and revoked."""
    with app.session_factory()() as session:
        keys = list_keys(session)
    if not keys:
        click.echo("no API keys")
    for key in keys:
        revoked = f"  revoked {key.revoked_at:%Y-%m-%dT%H:%MZ}" if key.revoked_at else ""
        click.echo(f"{key.name}  {key.role}  {key.prefix}...  created {key.created_at:%Y-%m-%dT%H:%MZ}{revoked}")


@keys_group.command("revoke")
@click.argument("name")
@click.pass_obj
def revoke_command(app: AppContext, name: str) -> None:
    """Revoke key NAME: its next request is refused (401)."""
    with transaction(app.session_factory()) as session:
        revoke_key(session, name, app.actor, app.now())
    click.echo(f"key {name} revoked")
