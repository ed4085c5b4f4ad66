"""Demo accounts: random passwords kept private, the same logins on a second start, fresh tokens."""

from __future__ import annotations

import stat
from pathlib import Path

from argon2 import PasswordHasher

from hospital_ops.demo import DEMO_STAFF, seed_demo_accounts
from hospital_ops.store import Store

FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def _store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", hasher=FAST)


def test_every_demo_login_works_and_the_file_is_private(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        accounts = seed_demo_accounts(store, tmp_path / "data")
        assert {x.role for x in accounts.logins} == {role for _, role, _ in DEMO_STAFF}
        for login in accounts.logins:
            assert store.authenticate(login.username, login.password) is not None
        assert accounts.path is not None
        assert stat.S_IMODE(accounts.path.stat().st_mode) == 0o600
        for token in accounts.tokens.values():
            assert store.verify_device_token(token) is not None


def test_second_start_keeps_passwords_and_revokes_old_tokens(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        first = seed_demo_accounts(store, tmp_path / "data")
        second = seed_demo_accounts(store, tmp_path / "data")
        assert [x.password for x in first.logins] == [x.password for x in second.logins]
        for device, token in first.tokens.items():
            assert store.verify_device_token(token) is None
            assert store.verify_device_token(second.tokens[device]) is not None


def test_passwords_are_random_per_installation(tmp_path: Path) -> None:
    with _store(tmp_path / "a") as a, _store(tmp_path / "b") as b:
        pa = {x.password for x in seed_demo_accounts(a, tmp_path / "a" / "data").logins}
        pb = {x.password for x in seed_demo_accounts(b, tmp_path / "b" / "data").logins}
    assert not pa & pb
