"""The service's own settings: sender addresses and the secret key are checked when the
settings are read, and a key that does not open the feeds is one clear line, never a
traceback."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from changemgmt.cli.main import cli
from changemgmt.config import ConfigError, load_settings
from changemgmt.signing import secret_key
from support.feeds import GCR

KEY_A = "k" * 32
KEY_B = "an-other-key-made-by-secrets-module-0123"
MAKE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAIL_FROM", "noc@example.net\r\nX: y", "MAIL_FROM: "),
        ("MAIL_FROM", "x,y@example.com", "MAIL_FROM: 'x,y@example.com' is not an email address"),
        ("MAIL_FROM", "Ops <x,y@example.com>", "MAIL_FROM: 'x,y@example.com' is not an email address"),
        ("MAIL_FROM", "Ops\r\nBcc: evil@evil.example <noc@example.net>", "MAIL_FROM: must be one line of text"),
        ("MAIL_FROM", "=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGUsIHg=?= <noc@example.net>", "MAIL_FROM: must not contain '=?"),
        ("MAIL_FROM", "Ops <>", "MAIL_FROM: must not be empty"),
        ("REPLY_TO", "noc@example.net\r\nX: y", "REPLY_TO: "),
        ("REPLY_TO", "x,y@example.com", "REPLY_TO: 'x,y@example.com' is not an email address"),
        ("REPLY_TO", "noc@example.net, evil@evil.example", "REPLY_TO: "),
        ("CM_EMAIL", "noc", "CM_EMAIL: 'noc' is not an email address"),
        ("CM_NAME", "Change\x1b]0;x\x07 Management", "CM_NAME: must be one line of text"),
        ("CM_PHONE", "+1 800\n555", "CM_PHONE: must be one line of text"),
    ],
)
def test_a_bad_sender_setting_is_one_line_naming_the_variable(name, value, message):
    with pytest.raises(ConfigError) as error:
        load_settings({name: value})
    assert str(error.value).startswith(message), str(error.value)
    assert str(error.value).isprintable()  # one line, no control character echoed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("noc@example.net", "noc@example.net"),
        ("NOC Team <noc@Example.NET>", "NOC Team <noc@example.net>"),
        ('"Example, Inc." <noc@example.net>', "Example, Inc. <noc@example.net>"),
    ],
)
def test_good_sender_settings_are_read_in_either_form(value, expected):
    settings = load_settings({"MAIL_FROM": value, "REPLY_TO": value})
    assert (settings.mail_from, settings.reply_to) == (expected, expected)


def test_the_cli_reports_a_bad_setting_in_one_line(home):
    result = CliRunner().invoke(
        cli, ["gcr", "show", "GCR-1"], env={"CHANGEMGMT_HOME": str(home), "MAIL_FROM": "x,y@example.com"}
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.splitlines() == [
        "Error: configuration: MAIL_FROM: 'x,y@example.com' is not an email address: The email address contains "
        "invalid characters before the @-sign: ','."
    ]


@pytest.mark.parametrize("key", ["", "short", "k" * 31, "é" * 15])
def test_a_secret_key_shorter_than_32_bytes_is_refused_with_how_to_make_one(key, home):
    env = {"CHANGEMGMT_HOME": str(home), "SECRET_KEY": key}
    if not key:  # an empty SECRET_KEY is unset: the key file is used
        (home / "var").mkdir()
        (home / "var" / "secret_key").write_text("\n")
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    assert str(error.value).startswith("SECRET_KEY: ")
    assert f"it must be at least 32 (make one with: {MAKE})" in str(error.value)


def test_a_32_byte_key_is_enough(home):
    assert load_settings({"CHANGEMGMT_HOME": str(home), "SECRET_KEY": "é" * 16}).secret_key == "é" * 16


@pytest.mark.parametrize("content", ["", "   \n", "too-short-key\n"])
def test_an_empty_or_short_key_file_is_refused_naming_it(home, content):
    (home / "var").mkdir()
    path = home / "var" / "secret_key"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_settings({"CHANGEMGMT_HOME": str(home)})
    assert str(error.value).startswith(f"SECRET_KEY: the key in {path} is ")
    assert MAKE in str(error.value)


def test_a_key_file_is_made_whole_on_first_use_and_read_back_after(home):
    settings = load_settings({"CHANGEMGMT_HOME": str(home)})
    key = secret_key(settings)
    path = home / "var" / "secret_key"
    assert len(key) == 43 and path.read_text().strip().encode() == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary file left
    assert load_settings({"CHANGEMGMT_HOME": str(home)}).secret_key.encode() == key


def invoke(env: dict, *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


def test_a_key_that_does_not_open_the_feeds_is_one_clear_line(desk, database_url, home):
    desk.publish(GCR)
    env = {"CHANGEMGMT_HOME": str(home), "DATABASE_URL": database_url, "SECRET_KEY": KEY_A}
    assert invoke(env, "feeds", "url", "ACC-1001").exit_code == 0
    assert invoke(env, "feeds", "url", "--internal").exit_code == 0
    other = {**env, "SECRET_KEY": KEY_B}
    result = invoke(other, "feeds", "url", "ACC-1001")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a message, not a crash
    assert result.output.splitlines() == [
        "Error: SECRET_KEY: the token of ACC-1001's customer feed does not open with this key (was SECRET_KEY or "
        "var/secret_key changed?); restore the key it was made with, or give the feed a new URL with "
        "`changemgmt feeds rotate ACC-1001`"
    ]
    assert "`changemgmt feeds rotate --internal`" in invoke(other, "feeds", "url", "--internal").output
    rotated = invoke(other, "feeds", "rotate", "ACC-1001")
    assert rotated.exit_code == 0 and "the old URL no longer works" in rotated.output
    assert invoke(other, "feeds", "url", "ACC-1001").exit_code == 0
