"""Drawer PINs: hashed with argon2id, never stored or logged in clear.

The task's creator (the store, on request) draws a PIN, gives it to the people at both ends out of
band and keeps only :func:`hash_pin`'s result; the hash travels with the task to the robot, which
checks PINs typed on its screen with :func:`verify_pin`. A 4–8 digit PIN has little entropy, so
the hash only keeps it out of logs and messages; the real protection is the robot's lock-out after
three wrong attempts.

Badges given with a task (SubmitTask) are kept the same way: the store keeps an argon2 hash of
each badge id per task end, the scheduler sends those hashes with the leg, and the robot checks a
badge held to its reader against them with :func:`badge_matches` (a clear entry such as a
station credential, ``hospital_ops.domain.station_badge``, is compared as it is).
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: OWASP (2023) minimum for argon2id: 19 MiB, 2 passes, 1 lane (~40 ms per hash here).
STANDARD_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)

#: For tests and the twin only: the smallest argon2id parameters (microseconds per hash).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)

_PIN_RE = re.compile(r"[0-9]{4,8}")  # ASCII only: \d would take full-width digits

#: Verifies with the parameters stored in each hash.
_VERIFIER = PasswordHasher()


def check_pin(pin: str) -> str:
    """The PIN itself if it is 4 to 8 digits; ValueError naming the field otherwise (never echoing it)."""
    if not isinstance(pin, str) or not _PIN_RE.fullmatch(pin):
        raise ValueError("pin: must be 4 to 8 digits")
    return pin


def hash_pin(pin: str, hasher: PasswordHasher = STANDARD_HASHER) -> str:
    """An argon2id hash of a PIN in PHC format (``$argon2id$v=19$m=...``), salted at random."""
    return hasher.hash(check_pin(pin))


def is_pin_hash(value: str) -> bool:
    """True for a well-formed argon2id PHC string."""
    if not value.startswith("$argon2id$"):
        return False
    try:
        extract_parameters(value)
    except InvalidHashError:
        return False
    return True


def verify_pin(pin: str, pin_hash: str) -> bool:
    """Does ``pin`` match ``pin_hash``? False (never an exception) for a malformed PIN or hash."""
    if not pin_hash or not isinstance(pin, str) or not _PIN_RE.fullmatch(pin):
        return False
    try:
        return _VERIFIER.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def badge_matches(badge: str, allowed: frozenset[str] | set[str]) -> bool:
    """Does ``badge`` open a drawer whose badge credentials are ``allowed``?

    An entry that is an argon2 hash (what the store keeps for a task's badges) matches only a
    badge that verifies against it, never the hash string itself; any other entry (a station
    credential) matches by equality.
    """
    if not badge or not isinstance(badge, str):
        return False
    for entry in allowed:
        if entry.startswith("$argon2"):
            try:
                if _VERIFIER.verify(entry, badge):
                    return True
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                continue
        elif entry == badge:
            return True
    return False
