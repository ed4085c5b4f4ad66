"""Demo accounts for `make demo`: one login per staff role and a token per demo device.

Passwords are random (no default credential exists anywhere in code), kept in
``<data dir>/demo-logins.json`` (mode 0600) so a second `make demo` prints the same logins, and
only their argon2 hashes are in the database. Device tokens are re-issued on every start (the old
ones revoked): the launcher hands them to the ROS bridge and the twin's live mode.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hospital_ops.store import NotFoundError, Store

LOGINS_FILE: Final = "demo-logins.json"

#: (username, role, what the person does) — role names as ops_dashboard.auth defines them.
DEMO_STAFF: Final[tuple[tuple[str, str, str], ...]] = (
    ("nurse.t3-15", "ward_staff", "ward nurse, T3 floor 15: requests deliveries, receives them with the PIN"),
    ("pharmacist", "pharmacist", "central pharmacy: marks medicines ready and loads the robot"),
    ("lab", "laboratory", "central laboratory: receives specimens"),
    ("manager", "operations_manager", "operations manager: the live dashboard"),
    ("admin", "admin", "administrator"),
)
#: (device id, token kind): the ROS bridge feeds the dashboard; the twin's live mode requests deliveries
#: and hands them over with their PINs, as ward staff do (so its token has the ward-staff role).
DEMO_DEVICES: Final[tuple[tuple[str, str], ...]] = (("ros-bridge", "bridge"), ("twin-live", "ward_staff"))


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    role: str
    password: str
    what: str


@dataclass(frozen=True, slots=True)
class DemoAccounts:
    logins: tuple[DemoLogin, ...]
    tokens: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


def _read_passwords(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.get("passwords", {}).items()}


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def seed_demo_accounts(store: Store, data_dir: Path) -> DemoAccounts:
    """Create (or refresh) the demo staff accounts and device tokens; idempotent across runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOGINS_FILE
    passwords = _read_passwords(path)
    logins: list[DemoLogin] = []
    for username, role, what in DEMO_STAFF:
        password = passwords.get(username) or secrets.token_urlsafe(9)
        try:
            store.get_user(username)
        except NotFoundError:
            store.add_user(username, role, password, actor="demo")
        else:
            store.set_password(username, password, actor="demo")
            store.set_user_active(username, True, actor="demo")
        logins.append(DemoLogin(username, role, password, what))
    tokens: dict[str, str] = {}
    for device_id, kind in DEMO_DEVICES:
        store.revoke_device_tokens(device_id, actor="demo")
        tokens[device_id], _ = store.issue_device_token(device_id, kind, actor="demo")
    _write_private(path, json.dumps({"passwords": {x.username: x.password for x in logins}}, indent=2) + "\n")
    return DemoAccounts(tuple(logins), tokens, path)
