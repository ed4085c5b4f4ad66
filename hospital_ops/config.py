"""One settings object for the whole product, read from the environment.

Every variable is prefixed ``HOSPITAL_OPS_`` (``HOSPITAL_OPS_DATA_DIR``, ``HOSPITAL_OPS_TIME_SCALE``,
...). The database URL is also read unprefixed as ``DATABASE_URL``; when both are set the prefixed
one wins. Secrets (``HOSPITAL_OPS_SECRET_KEY``, ``HOSPITAL_OPS_BIOMETRIC_KEY``,
``HOSPITAL_OPS_ID_HASH_KEY``, ``HOSPITAL_OPS_QR_TOKEN_KEY``, ``HOSPITAL_OPS_VISIT_KEY``) have no default in code: read them with :func:`require_secret`, which
says which variable to set and how to generate a value when one is missing. For a single machine,
:func:`load_or_create_secrets` creates ``<data dir>/secrets.env`` (mode 0600) on first start and
:meth:`Settings.load` with ``create_secrets=True`` fills missing secrets from it (the environment
still wins).

    settings = get_settings()                  # cached; Settings() builds a fresh one
    url = settings.database_url_or_default()   # sqlite:///<data dir>/hospital_ops.sqlite3 if unset
    key = require_secret("secret_key")
"""

from __future__ import annotations

import base64
import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX: Final = "HOSPITAL_OPS_"
#: The file name of the SQLite database inside the data directory.
SQLITE_FILE: Final = "hospital_ops.sqlite3"
#: The file name of the generated secrets inside the data directory.
SECRETS_FILE: Final = "secrets.env"
#: Secret settings: field name -> what it protects.
SECRET_FIELDS: Final[dict[str, str]] = {
    "secret_key": "signs web sessions and CSRF tokens",
    "biometric_key": "encrypts face templates at rest (AES-256-GCM key: 32 bytes, base64)",
    "id_hash_key": "keys the hash of national id numbers",
    "qr_token_key": "signs the check-in QR codes (shared with the hospital app's backend)",
    "visit_key": "encrypts kiosk visits in progress at rest (AES-256-GCM key: 32 bytes, base64)",
}
#: Shortest secret accepted, in characters (a generated one has 44).
MIN_SECRET_CHARS: Final = 32
GENERATE_HINT: Final = 'python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'


class MissingSecretError(RuntimeError):
    """A secret setting is not set (or too weak); the message says what to do."""


class Settings(BaseSettings):
    """Configuration of every process (web app, scheduler node, kiosks, twin, CLI)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
    )

    #: Where the SQLite database, the secrets file, reports and uploads live.
    data_dir: Path = Path("./var")
    #: SQLAlchemy URL; None = the SQLite file in the data directory. ``postgresql://`` and
    #: ``postgres://`` are taken to mean psycopg 3 (``postgresql+psycopg://``).
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(f"{ENV_PREFIX}DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    #: Campus YAML; None = the built-in default campus.
    campus_file: Path | None = None
    #: Campus seconds per wall-clock second (1 = real time; the twin runs much faster).
    time_scale: float = 1.0
    #: Web dashboard bind address.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    #: Socket.IO message queue for more than one web worker; None = in-process.
    redis_url: str | None = None
    log_level: str = "INFO"
    #: Wrong PINs in a row before a drawer locks out and an alert is raised.
    pin_max_attempts: int = 3

    secret_key: SecretStr | None = None
    biometric_key: SecretStr | None = None
    id_hash_key: SecretStr | None = None
    qr_token_key: SecretStr | None = None
    visit_key: SecretStr | None = None
    #: The hospital's IANA time zone ("Asia/Shanghai"): what "today" means at the kiosks. None = the
    #: campus file's ``timezone``, else UTC (see :func:`hospital_zone`).
    timezone: str | None = None

    @field_validator("time_scale")
    @classmethod
    def _positive_scale(cls, v: float) -> float:
        if not v > 0:
            raise ValueError(f"must be positive, got {v}")
        return v

    @field_validator("http_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 0 < v < 65536:
            raise ValueError(f"must be 1..65535, got {v}")
        return v

    @field_validator("pin_max_attempts")
    @classmethod
    def _attempts(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be at least 1, got {v}")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        if v.upper() not in levels:
            raise ValueError(f"must be one of {', '.join(levels)}, got {v!r}")
        return v.upper()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        zone_info(v.strip(), setting=env_var("timezone"))
        return v.strip()

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        return normalize_database_url(v.strip())

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / SECRETS_FILE

    def database_url_or_default(self) -> str:
        """The configured URL, or the SQLite file in the data directory (absolute path)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / SQLITE_FILE).resolve()}"

    @classmethod
    def load(cls, *, create_secrets: bool = False) -> Settings:
        """Read the environment; with ``create_secrets``, fill secrets the environment does not
        set from ``<data dir>/secrets.env``, creating that file (0600) on first start."""
        settings = cls()
        if not create_secrets:
            return settings
        stored = load_or_create_secrets(settings.data_dir)
        update = {name: SecretStr(value) for name, value in stored.items() if getattr(settings, name) is None}
        return settings.model_copy(update=update)


def zone_info(name: str, *, setting: str = "timezone") -> ZoneInfo:
    """The IANA time zone ``name``, or ``ValueError`` naming ``setting`` and the reason."""
    hint = "expected an IANA time zone name such as Asia/Shanghai or UTC"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{setting}: {hint}, got {name!r}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{setting}: unknown time zone {name!r}; {hint}") from None


def hospital_zone(settings: Settings, campus_timezone: str | None = None) -> ZoneInfo:
    """What "today" means at the hospital: ``HOSPITAL_OPS_TIMEZONE``, else the campus file's
    ``timezone``, else UTC."""
    if settings.timezone:
        return zone_info(settings.timezone, setting=env_var("timezone"))
    if campus_timezone:
        return zone_info(campus_timezone, setting="campus timezone")
    return ZoneInfo("UTC")


def normalize_database_url(url: str) -> str:
    """Make ``postgres://`` / ``postgresql://`` use psycopg 3, the installed driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once). Tests build ``Settings(...)`` directly instead."""
    return Settings()


def env_var(name: str) -> str:
    """The environment variable of a settings field: ``secret_key`` -> ``HOSPITAL_OPS_SECRET_KEY``."""
    return f"{ENV_PREFIX}{name.upper()}"


def _secret_field(name: str) -> str:
    key = name.lower()
    if key.startswith(ENV_PREFIX.lower()):
        key = key[len(ENV_PREFIX) :]
    if key not in SECRET_FIELDS:
        raise ValueError(f"name: {name!r} is not a secret setting; known: {', '.join(SECRET_FIELDS)}")
    return key


def require_secret(name: str, settings: Settings | None = None) -> str:
    """The value of a secret setting, or ``MissingSecretError`` saying how to set one.

    ``name`` is the field (``"secret_key"``) or its variable (``"HOSPITAL_OPS_SECRET_KEY"``).
    """
    key = _secret_field(name)
    settings = settings or get_settings()
    value: SecretStr | None = getattr(settings, key)
    var = env_var(key)
    how = (
        f"generate one with\n    {GENERATE_HINT}\nand export it as {var}, or let `hospital-ops` "
        f"create {settings.secrets_file} (mode 0600) on first start"
    )
    if value is None or not value.get_secret_value().strip():
        raise MissingSecretError(f"{var} is not set ({SECRET_FIELDS[key]}): {how}")
    secret = value.get_secret_value()
    if len(secret) < MIN_SECRET_CHARS:
        raise MissingSecretError(
            f"{var} is too short ({len(secret)} characters, need at least {MIN_SECRET_CHARS}): {how}"
        )
    return secret


def generate_secret() -> str:
    """32 random bytes, URL-safe base64 (44 characters; also a valid AES-256 key for the biometric store)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        var, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}:{lineno}: expected NAME=value")
        values[var.strip()] = value.strip().strip("'\"")
    return values


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_or_create_secrets(data_dir: Path | str) -> dict[str, str]:
    """Read ``<data_dir>/secrets.env``, creating it (and the directory, 0700) on first start.

    Missing secrets are generated and written back; the file is always mode 0600 and a file
    that other users can read is refused (``PermissionError`` naming the fix). Returns the
    secrets by field name (``{"secret_key": ..., "biometric_key": ..., ...}``, one per ``SECRET_FIELDS``).
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise PermissionError(
                f"{path}: readable by other users (mode {mode:04o}); run `chmod 600 {path}` and retry"
            )
        stored = _parse_env_file(path)
    secrets = {key: stored.get(env_var(key), "") for key in SECRET_FIELDS}
    missing = [key for key, value in secrets.items() if not value]
    if missing:
        for key in missing:
            secrets[key] = generate_secret()
        lines = ["# hospital-ops secrets, generated on first start. Keep private (mode 0600); back up."]
        lines += [f"{env_var(key)}={secrets[key]}" for key in SECRET_FIELDS]
        lines += [f"{var}={value}" for var, value in stored.items() if var not in map(env_var, SECRET_FIELDS)]
        _write_private(path, "\n".join(lines) + "\n")
    return secrets
