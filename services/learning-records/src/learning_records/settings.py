"""Settings of the learning-records service (environment prefix RECORDS_)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from pilnveide_kit.settings import ServiceSettings

#: The development pepper: fine on a laptop, refused in production.
DEVELOPMENT_PEPPER = "development-pepper-not-for-production"


class LearningRecordsSettings(ServiceSettings):
    """Environment variables start with RECORDS_, e.g. RECORDS_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="RECORDS_", extra="ignore")

    service_name: str = "learning-records"
    port: int = 8002
    #: Secret key of the personal-code pseudonyms (HMAC-SHA-256). Changing it orphans every
    #: existing pseudonym, so it is set once per deployment and kept in a secret store.
    pseudonym_pepper: str = DEVELOPMENT_PEPPER
    #: Most items one bulk call may carry.
    bulk_max_items: int = Field(default=50_000, ge=1)
    #: Largest bulk request body, in bytes.
    bulk_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    #: How long an Idempotency-Key and its stored response are kept, in hours.
    idempotency_ttl_hours: int = Field(default=48, ge=1)
    #: The catalog this service keeps a copy of (courses and their tags, institutions,
    #: reference lists, frameworks), reached directly; unset: no copy is kept (tests).
    catalog_url: str | None = None
    #: Seconds between two pulls of the catalog's change feed.
    catalog_sync_interval_s: float = Field(default=5.0, gt=0)
    #: How this service authenticates to the catalog: a fixed bearer token, or OAuth2 client
    #: credentials at the gateway's token endpoint (scope catalog:read).
    catalog_service_token: str | None = None
    catalog_client_id: str | None = None
    catalog_client_secret: str | None = None
    catalog_token_url: str = "http://127.0.0.1:8000/auth/token"  # noqa: S105 (a URL)
    catalog_connect_timeout_s: float = Field(default=0.5, gt=0)
    catalog_read_timeout_s: float = Field(default=30.0, gt=0)

    @property
    def catalog_sync_enabled(self) -> bool:
        """Whether the catalog copy is kept (a catalog URL is configured)."""
        return bool(self.catalog_url)

    @model_validator(mode="after")
    def _refuse_default_pepper_in_production(self) -> LearningRecordsSettings:
        if self.is_production and self.pseudonym_pepper == DEVELOPMENT_PEPPER:
            raise ValueError("RECORDS_PSEUDONYM_PEPPER must be set to a secret value in production")
        if self.is_production and not self.catalog_url:
            raise ValueError(
                "production needs RECORDS_CATALOG_URL: codes are checked and courses tagged "
                "against the copy of the catalog kept from it"
            )
        if len(self.pseudonym_pepper) < 16:
            raise ValueError("RECORDS_PSEUDONYM_PEPPER must be at least 16 characters long")
        return self
