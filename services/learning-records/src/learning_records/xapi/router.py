"""HTTP routes of the LRS at /xapi: request unwrapping, version and auth checks, the handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Security
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from learning_records.xapi.auth import xapi_principal
from learning_records.xapi.protocol import (
    XapiBadRequest,
    XapiPayloadTooLarge,
    XapiRequest,
    check_version,
    media_type,
    response_version,
)
from learning_records.xapi.resources import HANDLERS, check_params
from learning_records.xapi.schemas import route_options
from learning_records.xapi.settings import XapiSettings, xapi_settings
from learning_records.xapi.statements import utc_now
from learning_records.xapi.validation import format_timestamp
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import oauth2_scheme
from pilnveide_kit.errors import PROBLEM_MEDIA_TYPE, ProblemError

#: Form fields of the alternate request syntax that stand for headers.
FORM_HEADERS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}


class XapiRoute(APIRoute):
    """Every LRS answer, errors included, carries X-Experience-API-Version."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: render errors here and add the version header."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except ProblemError as exc:
                response = JSONResponse(
                    exc.to_problem(instance=request.url.path),
                    status_code=exc.status,
                    media_type=PROBLEM_MEDIA_TYPE,
                    headers=exc.headers,
                )
            requested = getattr(request.state, "xapi_version", None)
            response.headers["X-Experience-API-Version"] = response_version(
                requested or request.headers.get("x-experience-api-version"),
                xapi_settings(request).default_version,
            )
            if request.url.path.endswith("/statements") and request.method in ("GET", "HEAD"):
                response.headers.setdefault(
                    "X-Experience-API-Consistent-Through", format_timestamp(utc_now())
                )
            if request.method == "HEAD":
                response.body = b""
            return response

        return handler


router = APIRouter(prefix="/xapi", tags=["xAPI LRS"], route_class=XapiRoute)


async def unwrap(request: Request, settings: XapiSettings) -> XapiRequest:
    """The xAPI request: body read within limits, alternate request syntax unwrapped."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise XapiPayloadTooLarge(f"The body is larger than {settings.max_body_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_body_bytes:
            raise XapiPayloadTooLarge(f"The body is larger than {settings.max_body_bytes} bytes")
    params = dict(request.query_params)
    headers = {k.lower(): v for k, v in request.headers.items()}
    method = request.method
    if "method" in params:
        return _alternate(request, params, headers, bytes(body))
    return XapiRequest(method=method, params=params, headers=headers, body=bytes(body))


def _alternate(
    request: Request, params: dict[str, str], headers: dict[str, str], body: bytes
) -> XapiRequest:
    """Communication 1.3 (xAPI 1.0.x): POST ?method=X with the request in a form body."""
    version = headers.get("x-experience-api-version", "")
    if request.method != "POST":
        raise XapiBadRequest("The alternate request syntax is issued as a POST")
    if len(params) != 1:
        raise XapiBadRequest("With the alternate request syntax only method is in the query")
    method = params["method"].upper()
    if method not in ("GET", "PUT", "POST", "DELETE", "HEAD"):
        raise XapiBadRequest("method must be GET, PUT, POST, DELETE or HEAD")
    if media_type(headers.get("content-type")) != "application/x-www-form-urlencoded":
        raise XapiBadRequest("The alternate request syntax sends a form (x-www-form-urlencoded)")
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise XapiBadRequest("The form body is not url-encoded") from exc
    new_params: dict[str, str] = {}
    new_headers = {k: v for k, v in headers.items() if k not in ("content-type", "content-length")}
    content = b""
    for name, value in fields:
        if name.lower() in FORM_HEADERS:
            new_headers[name.lower()] = value
        elif name == "content":
            content = value.encode("utf-8")
        else:
            new_params[name] = value
    if method in ("PUT", "POST") and not content:
        raise XapiBadRequest("The alternate request syntax puts the body in a form field content")
    new_headers.setdefault("content-type", "application/json")
    version = new_headers.get("x-experience-api-version", version)
    if version.startswith("2."):
        raise XapiBadRequest("xAPI 2.0 has no alternate request syntax")
    return XapiRequest(method=method, params=new_params, headers=new_headers, body=content)


SettingsDep = Annotated[XapiSettings, Depends(xapi_settings)]


def _endpoint(resource: str) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
        xreq = await unwrap(request, settings)
        request.state.xapi_version = xreq.headers.get("x-experience-api-version")
        scope = "xapi:read" if xreq.method in ("GET", "HEAD") else "xapi:write"
        if resource != "about":  # the About resource is public, as the specification has it
            xreq.principal = xapi_principal(
                request, xreq.headers.get("authorization"), scope, settings
            )
            xreq.version = check_version(xreq.headers.get("x-experience-api-version"))
        else:
            xreq.version = xreq.headers.get("x-experience-api-version") or "2.0.0"
        check_params(resource, xreq)
        handler = HANDLERS[resource].get("GET" if xreq.method == "HEAD" else xreq.method)
        if handler is None:
            raise XapiBadRequest(f"{xreq.method} is not supported on this resource")
        xreq.extra["records_settings"] = request.app.state.settings
        response: Response = await run_in_threadpool(handler, session, xreq, settings)
        return response

    return endpoint


#: (path, resource, method, function name, summary, description).
ROUTES: list[tuple[str, str, str, str, str, str]] = [
    ("/statements", "statements", "GET", "xapi_get_statements", "Get statements",
     "One statement by statementId / voidedStatementId, or a filtered StatementResult with more."),
    ("/statements", "statements", "HEAD", "xapi_head_statements", "Head statements",
     "As GET, without the body."),
    ("/statements", "statements", "PUT", "xapi_put_statement", "Put a statement",
     "Store one statement under statementId (204); the same id with other content is 409."),
    ("/statements", "statements", "POST", "xapi_post_statements", "Post statements",
     "Store one statement or a batch, all or nothing; answers the ids."),
    ("/activities/state", "state", "GET", "xapi_get_state", "Get state",
     "One state document, or the stateIds of an activity, agent and registration."),
    ("/activities/state", "state", "HEAD", "xapi_head_state", "Head state", "As GET, no body."),
    ("/activities/state", "state", "PUT", "xapi_put_state", "Put state",
     "Store a state document (If-Match / If-None-Match honoured)."),
    ("/activities/state", "state", "POST", "xapi_post_state", "Post state",
     "Merge a JSON state document into the stored one."),
    ("/activities/state", "state", "DELETE", "xapi_delete_state", "Delete state",
     "Delete one state document, or all of an activity, agent and registration."),
    ("/activities/profile", "activity_profile", "GET", "xapi_get_activity_profile",
     "Get an activity profile", "One activity profile document, or the profileIds."),
    ("/activities/profile", "activity_profile", "HEAD", "xapi_head_activity_profile",
     "Head an activity profile", "As GET, no body."),
    ("/activities/profile", "activity_profile", "PUT", "xapi_put_activity_profile",
     "Put an activity profile", "Store an activity profile document (409 without a precondition)."),
    ("/activities/profile", "activity_profile", "POST", "xapi_post_activity_profile",
     "Post an activity profile", "Merge a JSON activity profile document into the stored one."),
    ("/activities/profile", "activity_profile", "DELETE", "xapi_delete_activity_profile",
     "Delete an activity profile", "Delete one activity profile document."),
    ("/agents/profile", "agent_profile", "GET", "xapi_get_agent_profile",
     "Get an agent profile", "One agent profile document, or the profileIds."),
    ("/agents/profile", "agent_profile", "HEAD", "xapi_head_agent_profile",
     "Head an agent profile", "As GET, no body."),
    ("/agents/profile", "agent_profile", "PUT", "xapi_put_agent_profile",
     "Put an agent profile", "Store an agent profile document (409 without a precondition)."),
    ("/agents/profile", "agent_profile", "POST", "xapi_post_agent_profile",
     "Post an agent profile", "Merge a JSON agent profile document into the stored one."),
    ("/agents/profile", "agent_profile", "DELETE", "xapi_delete_agent_profile",
     "Delete an agent profile", "Delete one agent profile document."),
    ("/activities", "activities", "GET", "xapi_get_activity", "Get an activity",
     "The LRS's canonical Activity object, merged from the statements naming it."),
    ("/activities", "activities", "HEAD", "xapi_head_activity", "Head an activity",
     "As GET, no body."),
    ("/agents", "agents", "GET", "xapi_get_person", "Get a person",
     "The Person object the LRS knows for an Agent."),
    ("/agents", "agents", "HEAD", "xapi_head_person", "Head a person", "As GET, no body."),
    ("/about", "about", "GET", "xapi_get_about", "About the LRS",
     "The xAPI versions served (no version header needed)."),
    ("/about", "about", "HEAD", "xapi_head_about", "Head about", "As GET, no body."),
]  # fmt: skip

for _path, _resource, _method, _name, _summary, _description in ROUTES:
    # The scope shown in the OpenAPI document; xapi_principal enforces it (Basic or Bearer).
    _scope = "xapi:read" if _method in ("GET", "HEAD") else "xapi:write"
    router.add_api_route(
        _path,
        _endpoint(_resource),
        methods=[_method],
        dependencies=[] if _resource == "about" else [Security(oauth2_scheme, scopes=[_scope])],
        name=_name,
        operation_id=_name,
        summary=_summary,
        description=_description,
        response_class=Response,
        **route_options(_resource, _method),  # documentation only: schemas.py
    )


def all_routers() -> APIRouter:
    """The LRS (/xapi) and its mapping administration (/v1/xapi) as one router to mount."""
    from learning_records.xapi.admin import router as admin_router
    from learning_records.xapi.outcomes import router as outcomes_router

    combined = APIRouter()
    combined.include_router(router)
    combined.include_router(outcomes_router)
    combined.include_router(admin_router)
    return combined
