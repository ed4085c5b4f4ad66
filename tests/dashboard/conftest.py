"""A fresh web app over a fresh SQLite store for each test, with one account per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from hospital_ops.config import Settings
from hospital_ops.store import Store
from ops_dashboard import create_app
from ops_dashboard.auth import ALL_ROLES, STAFF_ROLES

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    # cheap password hashing in tests (production uses argon2's defaults)
    s = Store.open(
        f"sqlite:///{tmp_path / 'ops.sqlite3'}", hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    yield s
    s.close()


@pytest.fixture
def app(store: Store, tmp_path: Path) -> Flask:
    settings = Settings(data_dir=tmp_path, secret_key="k" * 44)
    app = create_app(settings, store=store, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False
    for role in STAFF_ROLES:
        store.add_user(f"{role}1", role, PASSWORD, actor="test")
    return app


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    """A bearer token per role (devices and scripts)."""
    return {role: store.issue_device_token(f"dev-{role}", role, actor="test")[0] for role in ALL_ROLES}


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, role: str) -> None:
    r = client.post("/login", data={"username": f"{role}1", "password": PASSWORD})
    assert r.status_code == 302, r.data
