"""PIN hashing: argon2id, salted, never echoing the PIN, tolerant of garbage."""

from __future__ import annotations

import pytest

from robots.credentials import FAST_HASHER, badge_matches, check_pin, hash_pin, is_pin_hash, verify_pin


def test_hash_is_salted_argon2id_and_verifies() -> None:
    """Two hashes of one PIN differ (salt) and both verify; a wrong PIN does not."""
    a, b = hash_pin("1234", FAST_HASHER), hash_pin("1234", FAST_HASHER)
    assert a != b and a.startswith("$argon2id$") and is_pin_hash(a)
    assert verify_pin("1234", a) and verify_pin("1234", b) and not verify_pin("1235", a)


def test_standard_hasher_uses_owasp_minimum() -> None:
    """The default cost is argon2id m=19 MiB, t=2, p=1."""
    assert "$m=19456,t=2,p=1$" in hash_pin("123456")


@pytest.mark.parametrize("pin", ["", "123", "123456789", "12a4", " 1234", "１２３４"])
def test_malformed_pins_are_refused_without_echo(pin: str) -> None:
    """PINs must be 4-8 ASCII digits; the error never repeats the PIN."""
    with pytest.raises(ValueError, match="pin: must be 4 to 8 digits") as info:
        check_pin(pin)
    assert not pin or pin not in str(info.value)


@pytest.mark.parametrize("bad_hash", ["", "1234", "$argon2i$v=19$m=8,t=1,p=1$abc$def", "$argon2id$garbage"])
def test_verify_is_false_for_malformed_hashes(bad_hash: str) -> None:
    """A malformed or foreign hash never opens a drawer and never raises."""
    assert not verify_pin("1234", bad_hash)
    assert not is_pin_hash(bad_hash)


def test_badges_match_their_hashes_never_the_hash_itself() -> None:
    """A badge matches an argon2 hash it verifies against, or a clear entry (a station credential) by
    equality; the hash string itself, a wrong badge, an empty badge and a malformed hash do not."""
    h = FAST_HASHER.hash("BADGE-0042")
    allowed = frozenset({h, "station:W3"})
    assert badge_matches("BADGE-0042", allowed) and badge_matches("station:W3", allowed)
    assert not badge_matches(h, allowed)
    assert not badge_matches("BADGE-0043", allowed) and not badge_matches("", allowed)
    assert not badge_matches("BADGE-0042", frozenset({"$argon2id$garbage"}))
