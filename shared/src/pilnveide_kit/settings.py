"""Settings bases: every service subclasses ServiceSettings with its own env prefix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository's var/ folder: local SQLite files and generated dev keys live here.
REPO_ROOT = Path(__file__).resolve().parents[3]
VAR_DIR = Path(os.environ.get("PILNVEIDE_VAR_DIR", REPO_ROOT / "var"))


def default_sqlite_url(name: str) -> str:
    """SQLite file under var/ for a service, the embedded default."""
    return f"sqlite:///{VAR_DIR / f'{name}.db'}"


class ServiceSettings(BaseSettings):
    """What every service reads from its environment (prefix set by the subclass)."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    migrate_on_start: bool = True
    #: HTTP worker processes (uvicorn workers) of `serve`. More than one lets the CPU-bound
    #: parts of requests (bulk bodies: parsing, validation, hashing) run on several cores; on
    #: SQLite (one writer, one file) the service always runs one.
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "INFO"
    #: `json` (one JSON object a line, for log collectors) or `text` (for a person at a terminal;
    #: `make run` chooses it when attached to one).
    log_format: Literal["json", "text"] = "json"
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    db_pool_size: int = Field(default=12, ge=11)
    #: Access tokens: issued by the gateway, verified here against its public keys.
    auth_issuer: str = "pilnveide-gateway"
    auth_audience: str = "pilnveide"
    auth_jwks_json: str | None = None
    auth_jwks_file: str | None = str(VAR_DIR / "keys" / "jwks.json")
    auth_jwks_url: str | None = None
    auth_leeway_s: int = Field(default=0, ge=0, le=300)
    #: The gateway's revocation view (GET /auth/revocations); unset: not consulted.
    auth_revocations_url: str | None = None
    #: How long the view is reused before it is fetched again: the revocation delay.
    auth_revocations_ttl_s: float = Field(default=5.0, ge=0, le=60)

    @model_validator(mode="after")
    def _default_database(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = default_sqlite_url(self.service_name)
        return self

    @property
    def is_production(self) -> bool:
        """True when running with production safety checks."""
        return self.environment == "production"
