"""Settings of the gateway (environment prefix GATEWAY_), all listed in docs/security.md."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from gateway.oidc.providers import OidcProvider
from pilnveide_kit.settings import VAR_DIR, ServiceSettings

#: The development admin client `gateway prepare` creates when GATEWAY_ADMIN_CLIENT_* are unset.
DEV_ADMIN_CLIENT_ID = "pilnveide-admin"
DEV_ADMIN_CLIENT_SECRET = "pilnveide-dev-admin-secret"  # noqa: S105 - refused in production
DEV_INDICATORS_CLIENT_SECRET = "pilnveide-dev-indicators-secret"  # noqa: S105 - refused in production
DEV_RECORDS_CLIENT_SECRET = "pilnveide-dev-records-secret"  # noqa: S105 - refused in production


class GatewaySettings(ServiceSettings):
    """Environment variables start with GATEWAY_, e.g. GATEWAY_CATALOG_URL."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    catalog_url: str = "http://127.0.0.1:8001"
    records_url: str = "http://127.0.0.1:8002"
    indicators_url: str = "http://127.0.0.1:8003"
    connect_timeout_s: float = Field(default=0.5, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    openapi_cache_s: float = Field(default=30.0, ge=0)

    #: Access tokens the gateway issues (issuer and audience: auth_issuer, auth_audience).
    token_lifetime_s: int = Field(default=900, ge=30, le=3600)
    #: Lifetime of the token minted for a request authenticated with HTTP Basic on /xapi.
    basic_token_lifetime_s: int = Field(default=60, ge=10, le=900)
    #: The signing key: an RSA private key PEM inline or in a file; both unset means a key
    #: generated once under keys_dir (development only).
    signing_key_pem: SecretStr | None = None
    signing_key_file: str | None = None
    #: kid of the configured key (default: its RFC 7638 thumbprint).
    signing_kid: str | None = None
    #: Public keys (a JWKS) of retired signing keys, still published and accepted.
    previous_jwks_json: str | None = None
    keys_dir: str = str(VAR_DIR / "keys")
    rsa_key_bits: int = Field(default=2048, ge=2048, le=8192)

    #: The admin client `gateway prepare` creates or updates (unset: the development defaults).
    admin_client_id: str | None = None
    admin_client_secret: SecretStr | None = None
    #: The indicators service's own client, which `gateway prepare` also creates or updates: it
    #: reads learning records and the catalog (unset secret: a development default).
    indicators_client_id: str = "indicators-service"
    indicators_client_secret: SecretStr | None = None
    #: learning-records' own client, also created or updated by `gateway prepare`: it reads the
    #: catalog to keep its copy (unset secret: a development default).
    records_client_id: str = "records-service"
    records_client_secret: SecretStr | None = None
    #: How long a client's previous secret stays valid after a rotation, unless said otherwise.
    secret_rotation_grace_s: int = Field(default=86_400, ge=0, le=30 * 86_400)
    #: Argon2id cost (RFC 9106 second recommended option by default).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    #: At most this many Argon2 computations at once (each takes argon2_memory_kib), and how
    #: long a secret check waits for one before answering 503.
    argon2_max_concurrent: int = Field(default=2, ge=1, le=64)
    argon2_wait_s: float = Field(default=10.0, gt=0)
    #: Wrong secrets (at /auth/token and with Basic on /xapi) allowed in a row per registered
    #: client id and per source address before 429; one more is allowed every refill seconds.
    token_failures_per_client: int = Field(default=10, ge=1)
    token_failures_per_address: int = Field(default=30, ge=1)
    token_failure_refill_s: float = Field(default=30.0, gt=0)
    #: How long a verified HTTP Basic credential and a client's active flag are cached.
    credential_cache_s: float = Field(default=60.0, ge=0)
    client_status_cache_s: float = Field(default=5.0, ge=0)
    #: How long a resort's institution list (asked of the catalog) is cached.
    resort_cache_s: float = Field(default=300.0, ge=0)

    #: Per-client token bucket of every client without a limit of its own (a client's own
    #: limit is set through the admin API: POST or PATCH /admin/clients, `rate_limit`).
    rate_limit_per_s: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    #: Redis holding the buckets (e.g. `redis://redis:6379/0`), shared by every gateway replica
    #: so a client gets its rate once however many replicas run; unset (the default, as
    #: `make run` does), each process keeps its own. A Redis that does not answer within
    #: rate_limit_redis_timeout_s is left alone for rate_limit_redis_retry_s, the process
    #: limiting on its own meanwhile (a warning is logged; requests never fail for it).
    rate_limit_redis_url: str | None = None
    rate_limit_redis_timeout_s: float = Field(default=0.05, gt=0, le=5)
    rate_limit_redis_retry_s: float = Field(default=5.0, gt=0)
    #: Largest request body accepted (Content-Length or counted while streaming), per route:
    #: /records (bulk writes: docs/records.md allows 64 MiB), /xapi (the LRS's own limit) and
    #: everything else.
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    records_max_request_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    xapi_max_request_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    #: How long /readyz/upstreams waits for each service's /readyz.
    upstream_ready_timeout_s: float = Field(default=1.0, gt=0, le=10)
    audit_enabled: bool = True
    #: Audit entries are stored in batches off the request path: at most this long after the
    #: request, sooner when audit_batch_size wait; while more than audit_max_pending wait (the
    #: store is failing), each request writes its own entry before it is answered (fail closed).
    audit_flush_interval_s: float = Field(default=0.2, gt=0, le=10)
    audit_batch_size: int = Field(default=500, ge=1, le=10_000)
    audit_max_pending: int = Field(default=10_000, ge=0, le=1_000_000)
    #: Browser origins allowed to call the API (CORS), comma-separated, e.g.
    #: `https://app.example.lv,http://localhost:5173`; empty (the default) allows none.
    cors_allowed_origins: str = ""
    #: How long a browser may cache a preflight answer.
    cors_max_age_s: int = Field(default=600, ge=0, le=86_400)
    #: OpenID Connect identity providers whose ID or access tokens /auth/token exchanges for a
    #: gateway token (RFC 8693), with their claim mapping: a JSON list (docs/security.md).
    oidc_providers: list[OidcProvider] = Field(default_factory=list)
    #: Lifetime of a token issued by exchange (never beyond the provider's token's exp).
    oidc_token_lifetime_s: int = Field(default=300, ge=30, le=3600)
    #: Timeout of each request to a provider (discovery, JWKS).
    oidc_http_timeout_s: float = Field(default=3.0, gt=0, le=30)
    #: How long a provider's discovery document is used before it is read again.
    oidc_discovery_cache_s: float = Field(default=3600.0, ge=0)
    #: A token naming an unknown kid makes the provider's JWKS be fetched again, at most this often.
    oidc_jwks_min_reload_s: float = Field(default=60.0, ge=0)

    @property
    def effective_admin_client_id(self) -> str:
        """The admin client id, the development default when unset."""
        return self.admin_client_id or DEV_ADMIN_CLIENT_ID

    @property
    def effective_admin_client_secret(self) -> str:
        """The admin client secret, the development default when unset."""
        if self.admin_client_secret is None:
            return DEV_ADMIN_CLIENT_SECRET
        return self.admin_client_secret.get_secret_value()

    @property
    def effective_indicators_client_secret(self) -> str:
        """The indicators service client's secret, the development default when unset."""
        if self.indicators_client_secret is None:
            return DEV_INDICATORS_CLIENT_SECRET
        return self.indicators_client_secret.get_secret_value()

    @property
    def cors_origins(self) -> list[str]:
        """The allowed origins as a list (scheme://host[:port], no trailing slash)."""
        return [o.strip().rstrip("/") for o in self.cors_allowed_origins.split(",") if o.strip()]

    @property
    def effective_records_client_secret(self) -> str:
        """learning-records' client secret, the development default when unset."""
        if self.records_client_secret is None:
            return DEV_RECORDS_CLIENT_SECRET
        return self.records_client_secret.get_secret_value()

    @property
    def keys_configured(self) -> bool:
        """True when the signing key comes from settings rather than a generated file."""
        return bool(self.signing_key_pem or self.signing_key_file)
