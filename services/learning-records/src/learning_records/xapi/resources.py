"""The LRS resources: each handler takes an unwrapped xAPI request and returns the HTTP answer."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from sqlmodel import Session
from starlette.responses import Response

from learning_records.settings import LearningRecordsSettings
from learning_records.xapi import documents as docs
from learning_records.xapi import statements as st
from learning_records.xapi.access import XapiAccess
from learning_records.xapi.identity import agent_key
from learning_records.xapi.mapping import StatementMapper
from learning_records.xapi.personal_codes import PersonalCodes
from learning_records.xapi.protocol import (
    JSON_TYPE,
    MULTIPART_MIXED,
    SUPPORTED_VERSIONS,
    DocumentNotFound,
    XapiBadRequest,
    XapiPayloadTooLarge,
    XapiRequest,
    build_multipart,
    parse_multipart,
    xapi_json,
)
from learning_records.xapi.settings import XapiSettings
from learning_records.xapi.validation import format_timestamp, parse_timestamp
from pilnveide_kit.boundary import MAX_BIGINT, MIN_BIGINT, text_problem

Handler = Callable[[Session, XapiRequest, XapiSettings], Response]

STATEMENT_QUERY_PARAMS = {
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "more",
}
#: The parameters each resource and method accepts; anything else is a 400.
ALLOWED_PARAMS: dict[tuple[str, str], set[str]] = {
    ("statements", "PUT"): {"statementId"},
    ("statements", "POST"): set(),
    ("statements", "GET"): STATEMENT_QUERY_PARAMS,
    ("state", "GET"): {"activityId", "agent", "registration", "stateId", "since"},
    ("state", "PUT"): {"activityId", "agent", "registration", "stateId"},
    ("state", "POST"): {"activityId", "agent", "registration", "stateId"},
    ("state", "DELETE"): {"activityId", "agent", "registration", "stateId"},
    ("activity_profile", "GET"): {"activityId", "profileId", "since"},
    ("activity_profile", "PUT"): {"activityId", "profileId"},
    ("activity_profile", "POST"): {"activityId", "profileId"},
    ("activity_profile", "DELETE"): {"activityId", "profileId"},
    ("agent_profile", "GET"): {"agent", "profileId", "since"},
    ("agent_profile", "PUT"): {"agent", "profileId"},
    ("agent_profile", "POST"): {"agent", "profileId"},
    ("agent_profile", "DELETE"): {"agent", "profileId"},
    ("activities", "GET"): {"activityId"},
    ("agents", "GET"): {"agent"},
    ("about", "GET"): set(),
}


def check_params(resource: str, request: XapiRequest) -> None:
    """400 for a parameter the resource does not know (names are case-sensitive)."""
    method = "GET" if request.method == "HEAD" else request.method
    allowed = ALLOWED_PARAMS.get((resource, method))
    if allowed is None:
        raise XapiBadRequest(f"{request.method} is not supported on this resource")
    unknown = sorted(set(request.params) - allowed)
    if unknown:
        raise XapiBadRequest(
            f"Unknown parameter {unknown[0]!r} (parameter names are case-sensitive)",
            unknown_parameters=unknown,
        )


def access_of(session: Session, request: XapiRequest) -> XapiAccess:
    """The partitions the caller sees and writes (xapi/access.py)."""
    assert request.principal is not None, "every resource but About has a principal"
    return XapiAccess(session, request.principal.institutions)


def pepper_of(request: XapiRequest) -> str:
    """The pseudonym pepper of the service's settings."""
    records_settings = request.extra.get("records_settings")
    if records_settings is None:
        records_settings = LearningRecordsSettings()
    return str(records_settings.pseudonym_pepper)


def codes_of(request: XapiRequest, settings: XapiSettings) -> PersonalCodes:
    """The pseudonymiser of personal-code accounts for this request."""
    return PersonalCodes(settings, pepper_of(request))


def http_date(moment: datetime) -> str:
    """An HTTP date (Last-Modified)."""
    return format_datetime(moment, usegmt=True)


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)


def _bool_param(request: XapiRequest, name: str) -> bool:
    value = request.params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise XapiBadRequest(f"The {name} parameter must be true or false")
    return value == "true"


def _timestamp_param(request: XapiRequest, name: str) -> datetime | None:
    value = request.params.get(name)
    if value is None:
        return None
    try:
        return parse_timestamp(value, name)
    except XapiBadRequest:
        raise
    except Exception as exc:
        raise XapiBadRequest(f"The {name} parameter must be an ISO 8601 timestamp") from exc


def _required(request: XapiRequest, name: str) -> str:
    value = request.params.get(name)
    if value is None or value == "":
        raise XapiBadRequest(f"The {name} parameter is required")
    return value


def _languages(request: XapiRequest) -> list[str]:
    header = request.headers.get("accept-language", "")
    ranked = []
    for piece in header.split(","):
        tag, _, quality = piece.strip().partition(";q=")
        if tag and tag != "*":
            try:
                weight = float(quality) if quality else 1.0
            except ValueError:
                weight = 0.0
            ranked.append((weight, tag.lower()))
    return [tag for _, tag in sorted(ranked, key=lambda x: -x[0])]


# --- statements ---------------------------------------------------------------------------------


def _statement_body(request: XapiRequest, settings: XapiSettings) -> tuple[Any, list[Any]]:
    content_type = request.content_type
    parts: list[Any] = []
    if content_type == MULTIPART_MIXED:
        all_parts = parse_multipart(request.body, request.headers.get("content-type"))
        first, parts = all_parts[0], all_parts[1:]
        if first.content_type != JSON_TYPE:
            raise XapiBadRequest(
                "The first part of a multipart/mixed body must be application/json"
            )
        body = xapi_json(first.body, "statement part")
    elif content_type == JSON_TYPE or (content_type == "" and request.body):
        body = request.json_body()
    else:
        raise XapiBadRequest("Statements are sent as application/json or multipart/mixed")
    return body, parts


def put_statement(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
    """PUT /statements?statementId=…: store one statement under the given id."""
    statement_id = st.check_uuid_param("statementId", _required(request, "statementId"))
    body, parts = _statement_body(request, settings)
    if not isinstance(body, dict):
        raise XapiBadRequest("PUT takes one statement object")
    if "id" in body and str(body["id"]).lower() != statement_id:
        raise XapiBadRequest("The statement's id differs from the statementId parameter")
    body["id"] = body.get("id", statement_id)
    _store(session, request, settings, [body], parts)
    return Response(status_code=204)


def post_statements(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
    """POST /statements: store one statement or a batch; answer their ids."""
    body, parts = _statement_body(request, settings)
    batch = body if isinstance(body, list) else [body]
    if not batch:
        raise XapiBadRequest("The batch is empty")
    if len(batch) > settings.max_batch_statements:
        raise XapiPayloadTooLarge(
            f"A batch holds at most {settings.max_batch_statements} statements",
            max_batch_statements=settings.max_batch_statements,
        )
    outcome = _store(session, request, settings, batch, parts)
    return _json(outcome.ids)


def _store(
    session: Session,
    request: XapiRequest,
    settings: XapiSettings,
    batch: list[Any],
    parts: list[Any],
) -> st.StoreOutcome:
    if not all(isinstance(s, dict) for s in batch):
        raise XapiBadRequest("Every statement must be a JSON object")
    principal = request.principal
    codes = codes_of(request, settings)
    # Personal codes go before anything else sees the statements (docs/xapi.md).
    batch = [codes.statement(statement) for statement in batch]
    access = access_of(session, request)
    mapper = StatementMapper(session, settings, principal, pepper_of(request))
    mapper.prefetch(batch)
    outcome = st.store_statements(
        session,
        batch,
        version=request.version,
        client_id=principal.client_id,
        authority=st.authority_for(principal.client_id, settings.authority_home_page),
        parts=parts,
        max_attachment_bytes=settings.max_attachment_bytes,
        access=access,
        decide_mapping=mapper.decide,
    )
    mapper.apply(
        [item.statement for item in outcome.new],
        {
            item.row["statement_id"]
            for item in outcome.new
            if item.row["mapping_status"] == "mapped"
        },
        outcome.voided_ids,
    )
    return outcome


def get_statements(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
    """GET /statements: one statement by id, or a filtered, paged StatementResult."""
    params = request.params
    fmt = params.get("format", "exact")
    if fmt not in ("exact", "ids", "canonical"):
        raise XapiBadRequest("format must be exact, ids or canonical")
    with_attachments = _bool_param(request, "attachments")
    languages = _languages(request)
    access = access_of(session, request)
    now = format_timestamp(st.utc_now())
    headers = {"X-Experience-API-Consistent-Through": now}
    single = params.get("statementId") or params.get("voidedStatementId")
    if "statementId" in params or "voidedStatementId" in params:
        others = set(params) - {"statementId", "voidedStatementId", "format", "attachments"}
        if others or ("statementId" in params and "voidedStatementId" in params):
            raise XapiBadRequest(
                "statementId / voidedStatementId may be combined only with format and attachments"
            )
        found = st.get_statement(
            session,
            st.check_uuid_param("statementId", single or ""),
            voided="voidedStatementId" in params,
            access=access,
        )
        statement = st.format_statement(found.statement, fmt, languages)
        headers["Last-Modified"] = http_date(found.stored)
        return _statement_response(
            session, access, statement, [found.statement], with_attachments, headers
        )
    if "more" in params:
        if len(params) > 1:
            raise XapiBadRequest("more is used alone: it carries the query it continues")
        query_params, after, bound = _decode_more(params["more"])
        request = XapiRequest(
            method="GET",
            params=query_params,
            headers=request.headers,
            body=b"",
            version=request.version,
            principal=request.principal,
            extra=request.extra,
        )
        params = query_params
        fmt = params.get("format", "exact")
        with_attachments = _bool_param(request, "attachments")
    else:
        after, bound = None, None
    query = _statement_query(request, settings)
    limit_raw = params.get("limit", "0")
    if not limit_raw.isdigit():
        raise XapiBadRequest("limit must be a non-negative integer")
    limit = int(limit_raw) or settings.page_size
    limit = min(limit, settings.page_size)
    page, next_after, bound = st.query_statements(
        session, query, limit=limit, after=after, bound=bound, access=access
    )
    result: dict[str, Any] = {
        "statements": [st.format_statement(s.statement, fmt, languages) for s in page],
        "more": "",
    }
    if next_after is not None:
        carried = {k: v for k, v in params.items() if k != "more"}
        if "agent" in carried:  # the link carries the pseudonymous agent, never a code
            agent = st.parse_agent_param(carried["agent"], codes_of(request, settings))[0]
            carried["agent"] = json.dumps(agent, ensure_ascii=False, separators=(",", ":"))
        result["more"] = "/xapi/statements?more=" + _encode_more(carried, next_after, bound)
    if page:
        headers["Last-Modified"] = http_date(max(s.stored for s in page))
    return _statement_response(
        session, access, result, [s.statement for s in page], with_attachments, headers
    )


def _statement_query(request: XapiRequest, settings: XapiSettings) -> st.StatementQuery:
    params = request.params
    query = st.StatementQuery(
        related_activities=_bool_param(request, "related_activities"),
        related_agents=_bool_param(request, "related_agents"),
        ascending=_bool_param(request, "ascending"),
        since=_timestamp_param(request, "since"),
        until=_timestamp_param(request, "until"),
    )
    if "agent" in params:
        query.agent = st.parse_agent_param(params["agent"], codes_of(request, settings))[1]
    if "verb" in params:
        query.verb = st.check_iri_param("verb", params["verb"])
    if "activity" in params:
        query.activity = st.check_iri_param("activity", params["activity"])
    if "registration" in params:
        query.registration = st.check_uuid_param("registration", params["registration"])
    return query


def _encode_more(params: dict[str, str], after: int, bound: int) -> str:
    raw = json.dumps({"p": params, "a": after, "b": bound}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_more(token: str) -> tuple[dict[str, str], int, int]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        params = {str(k): str(v) for k, v in value["p"].items()}
        after, bound = value["a"], value["b"]
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise XapiBadRequest("The more token is not one this LRS issued") from exc
    # A tampered token (a float, a number beyond 64 bits, NUL in a parameter) is refused here.
    if not all(type(n) is int and MIN_BIGINT <= n <= MAX_BIGINT for n in (after, bound)) or any(
        text_problem(text, controls=True) for pair in params.items() for text in pair
    ):
        raise XapiBadRequest("The more token is not one this LRS issued")
    return params, after, bound


def _statement_response(
    session: Session,
    access: XapiAccess,
    body: Any,
    statements: list[dict[str, Any]],
    with_attachments: bool,
    headers: dict[str, str],
) -> Response:
    if not with_attachments:
        return _json(body, headers=headers)
    contents = st.attachment_contents(session, st.statement_attachment_hashes(statements), access)
    boundary = uuid.uuid4().hex
    parts: list[tuple[dict[str, str], bytes]] = [
        (
            {"Content-Type": JSON_TYPE},
            json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        )
    ]
    for digest, content_type, content in contents:
        parts.append(
            (
                {
                    "Content-Type": content_type,
                    "Content-Transfer-Encoding": "binary",
                    "X-Experience-API-Hash": digest,
                },
                content,
            )
        )
    return Response(
        build_multipart(parts, boundary),
        media_type=f'{MULTIPART_MIXED}; boundary="{boundary}"',
        headers=headers,
    )


# --- documents ------------------------------------------------------------------------------


def _agent_key_param(request: XapiRequest, settings: XapiSettings) -> str:
    return st.parse_agent_param(_required(request, "agent"), codes_of(request, settings))[1]


def _scope(
    kind: str, session: Session, request: XapiRequest, settings: XapiSettings
) -> docs.DocumentScope:
    """The documents a request names, in the caller's own partition."""
    partition = access_of(session, request).own_partition()
    if kind == docs.STATE:
        registration = request.params.get("registration")
        return docs.DocumentScope(
            kind=kind,
            activity_id=st.check_iri_param("activityId", _required(request, "activityId")),
            agent_key=_agent_key_param(request, settings),
            registration=st.check_uuid_param("registration", registration)
            if registration is not None
            else "",
            partition=partition,
        )
    if kind == docs.ACTIVITY_PROFILE:
        return docs.DocumentScope(
            kind=kind,
            activity_id=st.check_iri_param("activityId", _required(request, "activityId")),
            partition=partition,
        )
    return docs.DocumentScope(
        kind=kind, agent_key=_agent_key_param(request, settings), partition=partition
    )


def _id_param(kind: str) -> str:
    return "stateId" if kind == docs.STATE else "profileId"


def _document_headers(document: docs.Document) -> dict[str, str]:
    return {"ETag": f'"{document.etag}"', "Last-Modified": http_date(document.updated)}


def document_handler(kind: str) -> dict[str, Handler]:
    """GET / PUT / POST / DELETE handlers of one document resource."""

    def get(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
        scope = _scope(kind, session, request, settings)
        document_id = request.params.get(_id_param(kind))
        if document_id is None:
            since = _timestamp_param(request, "since")
            ids, latest = docs.list_document_ids(session, scope, since)
            headers = {"Last-Modified": http_date(latest)} if latest else {}
            return _json(ids, headers=headers)
        if "since" in request.params:
            raise XapiBadRequest("since applies only when asking for the list of ids")
        document = docs.get_document(session, scope, document_id)
        if document is None:
            raise DocumentNotFound(f"No document {document_id!r}")
        return Response(
            document.content, media_type=document.content_type, headers=_document_headers(document)
        )

    def write(merge: bool) -> Handler:
        def handler(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
            scope = _scope(kind, session, request, settings)
            document_id = _required(request, _id_param(kind))
            if len(request.body) > settings.max_document_bytes:
                raise XapiPayloadTooLarge(
                    f"A document holds at most {settings.max_document_bytes} bytes"
                )
            if request.content_type == JSON_TYPE and not merge:
                request.json_body()
            document = docs.write_document(
                session,
                scope,
                document_id,
                request.body,
                request.headers.get("content-type", "application/octet-stream"),
                _preconditions(request),
                merge=merge,
                require_precondition=kind != docs.STATE or request.version.startswith("2."),
                precondition_for_new=kind != docs.STATE and not request.version.startswith("2."),
            )
            return Response(status_code=204, headers=_document_headers(document))

        return handler

    def delete(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
        scope = _scope(kind, session, request, settings)
        document_id = request.params.get(_id_param(kind))
        if document_id is None and kind != docs.STATE:
            raise XapiBadRequest(f"The {_id_param(kind)} parameter is required")
        docs.delete_documents(session, scope, document_id, _preconditions(request))
        return Response(status_code=204)

    return {"GET": get, "PUT": write(False), "POST": write(True), "DELETE": delete}


def _preconditions(request: XapiRequest) -> docs.Preconditions:
    return docs.Preconditions(
        if_match=request.headers.get("if-match"), if_none_match=request.headers.get("if-none-match")
    )


# --- activities, agents, about -----------------------------------------------------------------


def get_activity(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
    """GET /activities?activityId=…: the LRS's canonical Activity object."""
    activity_id = st.check_iri_param("activityId", _required(request, "activityId"))
    activity: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    definition = st.activity_definition(session, activity_id)
    if definition:
        activity["definition"] = definition
    return _json(activity)


def get_person(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
    """GET /agents?agent=…: the Person object the LRS knows for an Agent."""
    agent, _key = st.parse_agent_param(_required(request, "agent"), codes_of(request, settings))
    if agent.get("objectType") == "Group":
        raise XapiBadRequest("The Agents resource describes Agents, not Groups")
    person: dict[str, Any] = {"objectType": "Person"}
    if "name" in agent:
        person["name"] = [agent["name"]]
    for key in ("mbox", "mbox_sha1sum", "openid", "account"):
        if key in agent:
            person[key] = [agent[key]]
    assert agent_key(agent)
    return _json(person)


def get_about(session: Session, request: XapiRequest, settings: XapiSettings) -> Response:
    """GET /about: the xAPI versions this LRS serves."""
    return _json({"version": list(SUPPORTED_VERSIONS), "extensions": {}})


#: resource → method → handler.
HANDLERS: dict[str, dict[str, Handler]] = {
    "statements": {"GET": get_statements, "PUT": put_statement, "POST": post_statements},
    "state": document_handler(docs.STATE),
    "activity_profile": document_handler(docs.ACTIVITY_PROFILE),
    "agent_profile": document_handler(docs.AGENT_PROFILE),
    "activities": {"GET": get_activity},
    "agents": {"GET": get_person},
    "about": {"GET": get_about},
}
