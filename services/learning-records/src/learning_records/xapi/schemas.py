"""The LRS's OpenAPI description: xAPI objects as models, parameters and media types per route.

Documentation only: the handlers validate and answer by the xAPI specification (validation.py,
resources.py) and never use these models, so describing the LRS cannot change what it does.
The models allow extra members (the specification's extensions and objects this summary does
not spell out) so a generated client keeps everything it is sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from learning_records.xapi.protocol import VERSION_HEADER

LanguageMap = dict[str, str]


class _XapiObject(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Account(_XapiObject):
    """An account on a system (homePage) by name: how the LRS's agents name people."""

    home_page: str = Field(alias="homePage")
    name: str


class Agent(_XapiObject):
    """An Agent (one person or system) or a Group (member lists the agents)."""

    object_type: Literal["Agent", "Group"] | None = Field(default=None, alias="objectType")
    name: str | None = None
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: Account | None = None
    member: list[Agent] | None = None


class Verb(_XapiObject):
    """What the actor did: an IRI and its display names."""

    id: str
    display: LanguageMap | None = None


class ActivityDefinition(_XapiObject):
    """What an activity is: names, description, type, interaction details, extensions."""

    name: LanguageMap | None = None
    description: LanguageMap | None = None
    type: str | None = None
    more_info: str | None = Field(default=None, alias="moreInfo")
    interaction_type: str | None = Field(default=None, alias="interactionType")
    correct_responses_pattern: list[str] | None = Field(
        default=None, alias="correctResponsesPattern"
    )
    extensions: dict[str, Any] | None = None


class Activity(_XapiObject):
    """An activity (a course, a module, a test) by IRI, with its definition."""

    object_type: Literal["Activity"] | None = Field(default=None, alias="objectType")
    id: str
    definition: ActivityDefinition | None = None


class StatementObject(_XapiObject):
    """A statement's object: an Activity (default), an Agent or Group, a StatementRef or a
    SubStatement; the members present depend on objectType."""

    object_type: Literal["Activity", "Agent", "Group", "StatementRef", "SubStatement"] | None = (
        Field(default=None, alias="objectType")
    )
    id: str | None = None
    definition: ActivityDefinition | None = None


class Score(_XapiObject):
    """A score: scaled in [-1, 1], raw between min and max."""

    scaled: float | None = None
    raw: float | None = None
    min: float | None = None
    max: float | None = None


class Result(_XapiObject):
    """The outcome: score, success, completion, response, duration (ISO 8601), extensions."""

    score: Score | None = None
    success: bool | None = None
    completion: bool | None = None
    response: str | None = None
    duration: str | None = None
    extensions: dict[str, Any] | None = None


class Context(_XapiObject):
    """The circumstances: registration, instructor, team, context activities, platform…"""

    registration: str | None = None
    instructor: Agent | None = None
    team: Agent | None = None
    context_activities: dict[str, Any] | None = Field(default=None, alias="contextActivities")
    revision: str | None = None
    platform: str | None = None
    language: str | None = None
    statement: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


class Attachment(_XapiObject):
    """An attachment's description (its content travels as a multipart/mixed part)."""

    usage_type: str = Field(alias="usageType")
    display: LanguageMap
    content_type: str = Field(alias="contentType")
    length: int
    sha2: str
    description: LanguageMap | None = None
    file_url: str | None = Field(default=None, alias="fileUrl")


class Statement(_XapiObject):
    """One xAPI statement: actor, verb, object, optionally result and context; the LRS sets
    id (when absent), stored, authority, version and timestamp (when absent)."""

    id: str | None = None
    actor: Agent
    verb: Verb
    object: StatementObject
    result: Result | None = None
    context: Context | None = None
    timestamp: str | None = None
    stored: str | None = None
    authority: Agent | None = None
    version: str | None = None
    attachments: list[Attachment] | None = None


class StatementResult(_XapiObject):
    """A page of statements; more is the relative URL of the next page ("" on the last)."""

    statements: list[Statement]
    more: str = ""


class Person(_XapiObject):
    """Everything the LRS knows of one person: every name and identifier it has seen."""

    object_type: Literal["Person"] = Field(default="Person", alias="objectType")
    name: list[str] | None = None
    mbox: list[str] | None = None
    mbox_sha1sum: list[str] | None = None
    openid: list[str] | None = None
    account: list[Account] | None = None


class About(_XapiObject):
    """The versions of xAPI the LRS serves, and its extensions."""

    version: list[str]
    extensions: dict[str, Any] | None = None


def _schema(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


_VERSION_HEADER = {
    "name": "X-Experience-API-Version",
    "in": "header",
    "required": True,
    "description": "The xAPI version of the request: 1.0.3 or 2.0.0 (400 without)",
    "schema": {"type": "string", "pattern": VERSION_HEADER.pattern, "example": "2.0.0"},
}
_BINARY = {"type": "string", "format": "binary"}
_DOCUMENT_CONTENT = {
    "application/octet-stream": {"schema": _BINARY},
    "application/json": {"schema": {"type": "object", "additionalProperties": True}},
}
_IDS = {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}


def _query(name: str, description: str, *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_AGENT = 'An Agent as JSON, e.g. {"account": {"homePage": "…", "name": "…"}}'
_STATEMENT_QUERY = [
    _query("statementId", "One statement by id", format="uuid"),
    _query("voidedStatementId", "One voided statement by id", format="uuid"),
    _query("agent", "Statements about this Agent (JSON)"),
    _query("verb", "Statements with this verb IRI"),
    _query("activity", "Statements about this activity IRI"),
    _query("registration", "Statements of this registration", format="uuid"),
    _query("related_activities", "Also match activities in context", enum=["true", "false"]),
    _query("related_agents", "Also match agents in context", enum=["true", "false"]),
    _query("since", "Stored after this time (ISO 8601)", format="date-time"),
    _query("until", "Stored at or before this time (ISO 8601)", format="date-time"),
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Statements per page (0: the LRS's page size)",
        "schema": {"type": "integer", "minimum": 0},
    },
    _query("format", "ids, exact or canonical", enum=["ids", "exact", "canonical"]),
    _query("attachments", "true: multipart/mixed with the attachments", enum=["true", "false"]),
    _query("ascending", "Oldest first", enum=["true", "false"]),
]


def _document_params(kind: str, method: str) -> list[dict[str, Any]]:
    single = method in ("PUT", "POST")
    if kind == "state":
        params = [
            _query("activityId", "The activity's IRI", required=True),
            _query("agent", _AGENT, required=True),
            _query("registration", "The registration", format="uuid"),
            _query("stateId", "The state document's id", required=single),
        ]
    elif kind == "activity_profile":
        params = [
            _query("activityId", "The activity's IRI", required=True),
            _query("profileId", "The profile document's id", required=single),
        ]
    else:
        params = [
            _query("agent", _AGENT, required=True),
            _query("profileId", "The profile document's id", required=single),
        ]
    if method in ("GET", "HEAD"):
        params.append(_query("since", "Only ids of documents changed since (ISO 8601)"))
    return params


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


#: The model of each resource's GET answer (FastAPI adds it, and what it refers to, to the
#: document's components).
RESPONSE_MODELS: dict[str, Any] = {
    "statements": StatementResult | Statement,
    "activities": Activity,
    "agents": Person,
    "about": About,
}
_RESPONSE_DESCRIPTIONS = {
    "statements": "A StatementResult (a query), or one Statement (by statementId)",
    "activities": "The activity as the LRS knows it",
    "agents": "Every name and identifier the LRS knows for the agent",
    "about": "The xAPI versions served",
}


def route_options(resource: str, method: str) -> dict[str, Any]:
    """The keyword arguments of add_api_route documenting one LRS operation: its status code,
    responses (with their models), and its parameters and request body (openapi_extra)."""
    parameters: list[dict[str, Any]] = [] if resource == "about" else [dict(_VERSION_HEADER)]
    extra: dict[str, Any] = {}
    responses: dict[int | str, Any] = {}
    status_code = 200
    if method == "GET" and resource in RESPONSE_MODELS:
        responses[200] = {
            "model": RESPONSE_MODELS[resource],
            "description": _RESPONSE_DESCRIPTIONS[resource],
        }
    if resource == "statements":
        if method in ("GET", "HEAD"):
            parameters += _STATEMENT_QUERY
            if method == "GET":
                extra["responses"] = {
                    "200": {"content": {"multipart/mixed": {"schema": {"type": "string"}}}}
                }
        elif method == "PUT":
            parameters.append(_query("statementId", "The statement's id", required=True))
            extra["requestBody"] = {"required": True, "content": _json(_schema(Statement))}
            status_code = 204
        else:
            batch = {"anyOf": [_schema(Statement), {"type": "array", "items": _schema(Statement)}]}
            extra["requestBody"] = {
                "required": True,
                "content": {
                    **_json(batch),
                    "multipart/mixed": {"schema": {"type": "string"}},
                },
            }
            responses[200] = {"description": "The statements' ids", "content": _IDS}
    elif resource in ("state", "activity_profile", "agent_profile"):
        parameters += _document_params(resource, method)
        if method in ("PUT", "POST"):
            extra["requestBody"] = {"required": True, "content": _DOCUMENT_CONTENT}
            status_code = 204
        elif method == "DELETE":
            status_code = 204
        elif method == "GET":
            responses[200] = {
                "description": "The document as stored (its own media type), or without an "
                "id the ids (a JSON array of strings)",
                "content": _DOCUMENT_CONTENT,
            }
    elif resource == "activities":
        parameters.append(_query("activityId", "The activity's IRI", required=True))
    elif resource == "agents":
        parameters.append(_query("agent", _AGENT, required=True))
    if method == "HEAD":
        responses = {200: {"description": "As GET, headers only"}}
    if status_code == 204:
        responses = {204: {"description": "Done (no content)"}}
    extra["parameters"] = parameters
    return {"status_code": status_code, "responses": responses, "openapi_extra": extra}
