"""`changemgmt users create|invite|disable`: people who sign in to the web UI."""

from __future__ import annotations

import click

from changemgmt.cli.context import AppContext, user_errors
from changemgmt.config import ConfigError
from changemgmt.domain.access import Scope, check_permissions
from changemgmt.domain.errors import DomainError
from changemgmt.domain.roles import check_role
from changemgmt.store.db import transaction
from changemgmt.users.access import grant_access
from changemgmt.users.accounts import UserKind, create_user, disable_user, get_user
from changemgmt.users.invitations import email_invitation

PERMISSIONS = click.Choice(["view", "contacts", "users"])


@click.group("users")
def users_group() -> None:
    """People who sign in: change managers (with a role) and customers' staff (with access grants)."""


@users_group.command("create")
@click.argument("email")
@click.option("--name", default="", help="The person's name.")
@click.option("--role", help="A change manager's role: admin, change_manager or viewer.")
@click.option(
    "--enterprise",
    "enterprises",
    multiple=True,
    metavar="ACCOUNT",
    help="A customer user: this enterprise ID and every account below it (repeatable).",
)
@click.option(
    "--account", "accounts", multiple=True, metavar="ACCOUNT", help="A customer user: this one account (repeatable)."
)
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=PERMISSIONS,
    help="What the grants allow besides viewing maintenance (repeatable): contacts, users.",
)
@click.option("--time-zone", help="The zone pages show times in (default: DEFAULT_TIME_ZONE).")
@click.option(
    "--password-prompt", is_flag=True, help="Set the password now (asked twice, not echoed) rather than by invitation."
)
@click.pass_obj
@user_errors
def create_command(
    app: AppContext, email, name, role, enterprises, accounts, permissions, time_zone, password_prompt
) -> None:
    """Make a user: `--role` for change management, or `--enterprise`/`--account` for a customer."""
    if role and (enterprises or accounts):
        raise DomainError(
            "role", "a user is either change management (--role) or a customer's (--enterprise/--account)"
        )
    if not role and not (enterprises or accounts):
        raise DomainError("role", "give --role for change management, or --enterprise/--account for a customer user")
    zone = time_zone or app.settings.default_time_zone
    _check_zone(zone)
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True) if password_prompt else None
    granted = check_permissions(permissions)
    with transaction(app.session_factory()) as session:
        kind = UserKind.STAFF if role else UserKind.CUSTOMER
        user = create_user(
            session,
            email=email,
            name=name,
            kind=kind,
            role=check_role(role) if role else None,
            time_zone=zone,
            actor=app.actor,
            now=app.now(),
            password=password,
        )
        for account in enterprises:
            grant_access(session, user, account, Scope.ENTERPRISE, granted, app.actor, app.now())
        for account in accounts:
            grant_access(session, user, account, Scope.ACCOUNT, granted, app.actor, app.now())
        address = user.email
    click.echo(
        f"user {address} created"
        + ("" if password else f"; send an invitation with: changemgmt users invite {address}")
    )


def _check_zone(zone: str) -> None:
    from changemgmt.config import _zone

    try:
        _zone("--time-zone", zone)
    except ConfigError as exc:
        raise DomainError("--time-zone", str(exc).split(": ", 1)[1]) from None


@users_group.command("invite")
@click.argument("email")
@click.pass_obj
@user_errors
def invite_command(app: AppContext, email: str) -> None:
    """Email the user a link (valid 3 days, usable once) with which it sets its password,
    through EMAIL_BACKEND; print the link too, for the operator."""
    invitation = email_invitation(app.session_factory(), app.settings, email, app.actor, app.now())
    if not invitation.sent:
        click.echo(invitation.url)
        raise click.ClickException(f"the invitation email to {invitation.email} was not sent: {invitation.error}")
    click.echo(f"invitation emailed to {invitation.email} through {invitation.transport}; its link:")
    click.echo(invitation.url)


@users_group.command("disable")
@click.argument("email")
@click.pass_obj
@user_errors
def disable_command(app: AppContext, email: str) -> None:
    """Stop a user from signing in; its open sessions end at their next request."""
    with transaction(app.session_factory()) as session:
        user = get_user(session, email)
        disable_user(session, user, app.actor, app.now())
        address = user.email
    click.echo(f"user {address} disabled")
