"""Health endpoints shared by every service: /healthz, /readyz, /version."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from pilnveide_kit.errors import PROBLEM_MEDIA_TYPE, Problem


class Health(BaseModel):
    """Liveness or readiness report."""

    status: str
    checks: dict[str, str] = {}


class VersionInfo(BaseModel):
    """What is running."""

    service: str
    version: str
    api_version: str


#: A further readiness check of this process: the app in, {check name: "ok" or why not} out.
ReadinessCheck = Callable[[Any], dict[str, str]]


def health_router(
    service: str,
    version: str,
    api_version: str = "v1",
    *,
    readiness_checks: Sequence[ReadinessCheck] = (),
) -> APIRouter:
    """The /healthz, /readyz and /version routes; readiness checks the database and migrations
    and whatever else this process needs to serve (never another service: see docs)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health, summary="Process is alive")
    def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @router.get(
        "/readyz",
        response_model=Health,
        summary="Database reachable and migrations at head",
        responses={503: {"model": Problem, "description": "Not ready"}},
    )
    def readyz(request: Request) -> Any:
        """Readiness: the database answers and its schema is at the migration head."""
        checks = database_checks(request.app)
        for check in readiness_checks:
            checks.update(check(request.app))
        return readiness_answer(checks)

    @router.get("/version", response_model=VersionInfo, summary="Service name and version")
    def version_info() -> VersionInfo:
        """The service's name, release and API version."""
        return VersionInfo(service=service, version=version, api_version=api_version)

    return router


READY_VALUES = ("ok", "at head")


def database_checks(app: Any) -> dict[str, str]:
    """Whether the app's database answers and its schema is at the migration head."""
    checks: dict[str, str] = {}
    engine = app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
        return checks
    try:
        checks["migrations"] = "at head" if app.state.migrations.at_head(engine) else "behind head"
    except Exception as exc:
        checks["migrations"] = f"unknown: {type(exc).__name__}"
    return checks


def readiness_answer(checks: dict[str, str]) -> Any:
    """200 with the checks when every one is ready, else a 503 problem naming what is not."""
    if all(v in READY_VALUES for v in checks.values()):
        return Health(status="ready", checks=checks)
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "Not ready: "
            + ", ".join(f"{k} {v}" for k, v in checks.items() if v not in READY_VALUES),
            "checks": checks,
        },
        status_code=503,
        media_type=PROBLEM_MEDIA_TYPE,
    )
