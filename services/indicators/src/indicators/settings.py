"""Settings of the indicators service (environment prefix INDICATORS_)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from pilnveide_kit.settings import ServiceSettings


class IndicatorsSettings(ServiceSettings):
    """Environment variables start with INDICATORS_, e.g. INDICATORS_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="INDICATORS_", extra="ignore")

    service_name: str = "indicators"
    port: int = 8003
    #: learning-records and the catalog, reached directly (not through the gateway).
    records_url: str = "http://127.0.0.1:8002"
    catalog_url: str = "http://127.0.0.1:8001"
    #: How this service authenticates to them: a fixed bearer token, or OAuth2 client
    #: credentials at the gateway's token endpoint (the token is renewed before it expires).
    service_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str = "http://127.0.0.1:8000/auth/token"  # noqa: S105 (a URL)
    connect_timeout_s: float = Field(default=0.5, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    #: The plan whose indicators /v1/plan/progress and /v1/indicators show by default.
    plan: str = "LAP-2021-2027"
    #: The catalog's indicators and institutions are reloaded when its version moves; the
    #: version is asked at most this often (seconds).
    catalog_version_check_s: float = Field(default=1.0, ge=0)
    #: Backstop: they are reloaded after this long even if the version did not move.
    catalog_ttl_s: float = Field(default=3600.0, ge=0)
    #: How often (seconds) each instance checks the records feed head and the catalog's version
    #: and computes again the stored results behind them.
    refresh_interval_s: float = Field(default=1.0, gt=0)
    #: Stored results not read for this long (seconds) are no longer computed again.
    refresh_keep_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    #: Stored results computed again at once by one instance's refresher.
    refresh_concurrency: int = Field(default=4, ge=1)
    #: How long a claim on a computation holds (seconds) before another instance may take it
    #: over (the one holding it died).
    compute_lease_s: float = Field(default=300.0, gt=0)
    #: Most questions sent to learning-records in one batch request (1: no batching).
    records_batch_max: int = Field(default=16, ge=1, le=64)
    #: Indicators computed at once for lists and plan progress.
    compute_concurrency: int = Field(default=16, ge=1)
    #: Annex 3 norms: which enrolment statuses mean formal learning took place, and no-shows.
    learned_statuses: list[str] = Field(default_factory=lambda: ["completed", "attended", "passed"])
    no_show_statuses: list[str] = Field(default_factory=lambda: ["no_show"])
    #: Statuses an enrolment can be judged on for the no-show rate (booked and due).
    due_statuses: list[str] = Field(
        default_factory=lambda: ["completed", "attended", "passed", "failed", "no_show"]
    )

    @model_validator(mode="after")
    def _credentials_in_production(self) -> IndicatorsSettings:
        if self.is_production and not (
            self.service_token or (self.client_id and self.client_secret)
        ):
            raise ValueError(
                "production needs INDICATORS_SERVICE_TOKEN or INDICATORS_CLIENT_ID and "
                "INDICATORS_CLIENT_SECRET to reach learning-records and the catalog"
            )
        return self
