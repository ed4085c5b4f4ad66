"""Configuration: HOSPITAL_OPS_ environment, DATABASE_URL, secrets with no defaults, secrets file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from hospital_ops.config import (
    SECRET_FIELDS,
    MissingSecretError,
    Settings,
    load_or_create_secrets,
    require_secret,
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no hospital-ops variables, data dir in tmp_path."""
    for name in list(os.environ):
        if name.startswith("HOSPITAL_OPS_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOSPITAL_OPS_DATA_DIR", str(tmp_path / "var"))
    return monkeypatch


def test_defaults_and_prefixed_variables(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come from HOSPITAL_OPS_* variables; without a URL the database is a SQLite file
    in the data directory; no secret has a default."""
    env.setenv("HOSPITAL_OPS_TIME_SCALE", "600")
    env.setenv("HOSPITAL_OPS_CAMPUS_FILE", "/etc/campus.yaml")
    s = Settings()
    assert s.data_dir == tmp_path / "var"
    assert s.time_scale == 600.0 and s.campus_file == Path("/etc/campus.yaml")
    assert s.database_url is None
    assert s.database_url_or_default() == f"sqlite:///{(tmp_path / 'var' / 'hospital_ops.sqlite3').resolve()}"
    assert (s.secret_key, s.biometric_key, s.id_hash_key) == (None, None, None)


def test_database_url_prefixed_or_not(env: pytest.MonkeyPatch) -> None:
    """DATABASE_URL is read unprefixed too; HOSPITAL_OPS_DATABASE_URL wins; postgres:// means psycopg 3."""
    env.setenv("DATABASE_URL", "postgres://ops@db/hospital")
    assert Settings().database_url == "postgresql+psycopg://ops@db/hospital"
    env.setenv("HOSPITAL_OPS_DATABASE_URL", "postgresql://ops@db2/hospital")
    assert Settings().database_url_or_default() == "postgresql+psycopg://ops@db2/hospital"


@pytest.mark.parametrize(
    ("var", "value", "field"),
    [("HOSPITAL_OPS_TIME_SCALE", "0", "time_scale"), ("HOSPITAL_OPS_HTTP_PORT", "70000", "http_port"),
     ("HOSPITAL_OPS_LOG_LEVEL", "LOUD", "log_level")],
)  # fmt: skip
def test_bad_values_name_the_setting(env: pytest.MonkeyPatch, var: str, value: str, field: str) -> None:
    """A bad value is refused naming the setting."""
    env.setenv(var, value)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_require_secret_says_what_to_do(env: pytest.MonkeyPatch) -> None:
    """A missing or short secret raises MissingSecretError naming the variable and how to make one."""
    with pytest.raises(
        MissingSecretError, match=r"(?s)HOSPITAL_OPS_SECRET_KEY is not set .*urlsafe_b64encode.*secrets.env"
    ):
        require_secret("secret_key", Settings())
    env.setenv("HOSPITAL_OPS_BIOMETRIC_KEY", "short")
    with pytest.raises(MissingSecretError, match=r"HOSPITAL_OPS_BIOMETRIC_KEY is too short \(5 characters"):
        require_secret("HOSPITAL_OPS_BIOMETRIC_KEY", Settings())
    env.setenv("HOSPITAL_OPS_ID_HASH_KEY", "k" * 40)
    assert require_secret("id_hash_key", Settings()) == "k" * 40
    with pytest.raises(ValueError, match="'password' is not a secret setting"):
        require_secret("password", Settings())
    assert "k" * 40 not in repr(Settings())


def test_secrets_file_created_once_private(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """load_or_create_secrets writes every secret to a 0600 file on first start and reads the same
    values afterwards; a file others can read is refused."""
    data_dir = tmp_path / "var"
    first = load_or_create_secrets(data_dir)
    assert set(first) == set(SECRET_FIELDS) and all(len(v) == 44 for v in first.values())
    path = data_dir / "secrets.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secrets(data_dir) == first
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create_secrets(data_dir)


def test_settings_load_fills_missing_secrets_from_file(env: pytest.MonkeyPatch) -> None:
    """Settings.load(create_secrets=True) takes secrets from the file, but the environment wins."""
    env.setenv("HOSPITAL_OPS_SECRET_KEY", "e" * 44)
    s = Settings.load(create_secrets=True)
    stored = load_or_create_secrets(s.data_dir)
    assert require_secret("secret_key", s) == "e" * 44
    assert require_secret("biometric_key", s) == stored["biometric_key"]
    assert require_secret("id_hash_key", s) == stored["id_hash_key"]
