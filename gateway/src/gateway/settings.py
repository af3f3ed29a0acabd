"""Settings of the gateway (environment prefix GATEWAY_), all listed in docs/security.md."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pilnveide_kit.settings import VAR_DIR, ServiceSettings

#: The development admin client `gateway prepare` creates when GATEWAY_ADMIN_CLIENT_* are unset.
DEV_ADMIN_CLIENT_ID = "pilnveide-admin"
DEV_ADMIN_CLIENT_SECRET = "pilnveide-dev-admin-secret"  # noqa: S105 - refused in production
DEV_INDICATORS_CLIENT_SECRET = "pilnveide-dev-indicators-secret"  # noqa: S105 - refused in production


class ClientRateLimit(BaseModel):
    """One client's own token bucket."""

    per_s: float = Field(gt=0)
    burst: int = Field(ge=1)


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
    #: How long a client's previous secret stays valid after a rotation, unless said otherwise.
    secret_rotation_grace_s: int = Field(default=86_400, ge=0, le=30 * 86_400)
    #: Argon2id cost (RFC 9106 second recommended option by default).
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    #: How long a verified HTTP Basic credential and a client's active flag are cached.
    credential_cache_s: float = Field(default=60.0, ge=0)
    client_status_cache_s: float = Field(default=5.0, ge=0)
    #: How long a resort's institution list (asked of the catalog) is cached.
    resort_cache_s: float = Field(default=300.0, ge=0)

    #: Per-client token bucket: sustained requests per second and burst size.
    rate_limit_per_s: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    #: Clients with a bucket of their own, e.g. an LMS sending statements in bursts: a JSON
    #: object client id → {"per_s": …, "burst": …}.
    rate_limit_clients: dict[str, ClientRateLimit] = Field(default_factory=dict)
    #: Largest request body accepted (Content-Length or counted while streaming).
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    audit_enabled: bool = True

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
    def keys_configured(self) -> bool:
        """True when the signing key comes from settings rather than a generated file."""
        return bool(self.signing_key_pem or self.signing_key_file)
