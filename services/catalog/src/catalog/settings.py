"""Settings of the catalog service (environment prefix CATALOG_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from pilnveide_kit.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Environment variables start with CATALOG_, e.g. CATALOG_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore")

    service_name: str = "catalog"
    port: int = 8001
    #: Base of the URIs in exported IMS CASE packages.
    case_base_uri: str = "https://pilnveide.lv/catalog/v1/frameworks"
