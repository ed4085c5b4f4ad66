"""`hospital-ops robots` sub-commands that need no ROS: PIN hashing."""

from __future__ import annotations

from typer.testing import CliRunner

from robots.cli import app
from robots.credentials import verify_pin


def test_hash_pin_prints_a_hash_that_verifies() -> None:
    """The printed hash verifies the PIN and does not contain it."""
    result = CliRunner().invoke(app, ["hash-pin", "--stdin"], input="482913\n")
    assert result.exit_code == 0, result.output
    digest = result.stdout.strip()
    assert digest.startswith("$argon2id$") and "482913" not in digest
    assert verify_pin("482913", digest) and not verify_pin("482914", digest)


def test_hash_pin_refuses_a_bad_pin_without_echoing_it() -> None:
    """A PIN that is not 4-8 digits is refused with the rule, exit code 2, and not echoed."""
    result = CliRunner().invoke(app, ["hash-pin", "--stdin"], input="12ab\n")
    assert result.exit_code == 2
    assert "pin: must be 4 to 8 digits" in result.output and "12ab" not in result.output
