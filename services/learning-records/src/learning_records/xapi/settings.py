"""Settings of the xAPI LRS (environment prefix RECORDS_XAPI_)."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import FastAPI, Request
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Verb IRIs (ADL and cmi5) and what each means for an enrolment; override with VERB_MAP.
DEFAULT_VERB_MAP: dict[str, str] = {
    "http://adlnet.gov/expapi/verbs/registered": "registered",
    "http://adlnet.gov/expapi/verbs/attended": "attended",
    "http://adlnet.gov/expapi/verbs/completed": "completed",
    "http://adlnet.gov/expapi/verbs/passed": "passed",
    "http://adlnet.gov/expapi/verbs/failed": "failed",
    "http://adlnet.gov/expapi/verbs/scored": "scored",
    "https://w3id.org/xapi/adl/verbs/registered": "registered",
    "https://w3id.org/xapi/adl/verbs/attended": "attended",
    "https://w3id.org/xapi/adl/verbs/completed": "completed",
    "https://w3id.org/xapi/adl/verbs/passed": "passed",
    "https://w3id.org/xapi/adl/verbs/failed": "failed",
    "https://w3id.org/xapi/adl/verbs/scored": "scored",
}
EVENT_KINDS = frozenset({"registered", "attended", "completed", "passed", "failed", "scored"})


class XapiSettings(BaseSettings):
    """Limits, development credentials and the statement → learning record mapping."""

    model_config = SettingsConfigDict(env_prefix="RECORDS_XAPI_", extra="ignore")

    #: "key:secret" accepted as HTTP Basic credentials by the service itself (development only;
    #: in production the gateway exchanges an API client's Basic credentials for a token).
    basic_dev_credentials: str | None = None
    #: The version answered to a request that names none (1.0.3 for a 1.0-only deployment).
    default_version: Literal["1.0.3", "2.0.0"] = "2.0.0"
    max_body_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_batch_statements: int = Field(default=1000, ge=1)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_document_bytes: int = Field(default=1024 * 1024, ge=1)
    #: Statements per page of GET /xapi/statements when the client asks for none (or 0).
    page_size: int = Field(default=100, ge=1, le=1000)
    #: Identity of the API clients in the `authority` the LRS sets.
    authority_home_page: str = "https://pilnveide.lv/api-clients"
    #: JSON object: verb IRI → registered | attended | completed | passed | failed | scored.
    verb_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_VERB_MAP))
    #: Activity ids under this prefix name a catalog course by its code.
    course_activity_prefix: str = "https://pilnveide.lv/courses/"
    #: Account homePages whose names are personal codes (the rest carry HR ids).
    personal_code_home_pages: list[str] = Field(
        default_factory=lambda: ["https://pilnveide.lv/personal-code"]
    )

    #: homePage of the pseudonymous account that replaces a personal-code account at the door.
    pseudonym_home_page: str = "https://pilnveide.lv/pseudonym"

    #: JSON object: account homePage → the HR system (source system) whose person ids it carries;
    #: a homePage not listed is its own source system name.
    hr_source_systems: dict[str, str] = Field(default_factory=dict)

    def hr_source_for(self, home_page: str) -> str:
        """The source system of the HR ids an account homePage carries."""
        for page, system in self.hr_source_systems.items():
            if page.rstrip("/") == home_page.rstrip("/"):
                return system
        return home_page[:64]

    @field_validator("verb_map", mode="before")
    @classmethod
    def _verb_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, dict):
            unknown = {v for v in value.values() if v not in EVENT_KINDS}
            if unknown:
                raise ValueError(f"unknown learning events {sorted(unknown)}")
        return value

    def dev_credentials(self) -> tuple[str, str] | None:
        """The development Basic credentials as (key, secret), if set."""
        if not self.basic_dev_credentials:
            return None
        key, sep, secret = self.basic_dev_credentials.partition(":")
        if not sep or not key or not secret:
            raise ValueError("RECORDS_XAPI_BASIC_DEV_CREDENTIALS must be key:secret")
        return key, secret


def install_xapi_settings(app: FastAPI) -> None:
    """Startup hook: read the xAPI settings once; refuse development credentials in production."""
    settings = getattr(app.state, "xapi_settings", None) or XapiSettings()
    if settings.basic_dev_credentials and app.state.settings.is_production:
        raise RuntimeError("RECORDS_XAPI_BASIC_DEV_CREDENTIALS is refused in production")
    settings.dev_credentials()
    app.state.xapi_settings = settings


def xapi_settings(request: Request) -> XapiSettings:
    """The app's xAPI settings."""
    settings = getattr(request.app.state, "xapi_settings", None)
    if settings is None:
        settings = XapiSettings()
        request.app.state.xapi_settings = settings
    return settings
