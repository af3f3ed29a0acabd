"""xAPI statement validation: every rule the specification sets for a statement (1.0.3, 2.0.0).

A failure raises StatementInvalid naming the rule and the JSON path, e.g.
"actor: an Agent must have exactly one inverse functional identifier".
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pilnveide_kit.errors import BadRequest


class StatementInvalid(BadRequest):
    """A statement (or a parameter value) breaks a rule of the xAPI specification."""

    slug = "xapi-invalid-statement"


MAX_IRI_LENGTH = 2048
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
_MAILTO = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
_LANG = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?$|^[xX](?:-[A-Za-z0-9]{1,8})+$"
)
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DURATION = re.compile(
    r"^P(?:\d+(?:\.\d+)?W|(?!$)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?)$"
)
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+(?:\s*;.*)?$")
_VERSION = re.compile(r"^(1\.0|2\.0)(?:\.\d+)?$")

INTERACTION_TYPES = {
    "true-false": set(),
    "choice": {"choices"},
    "fill-in": set(),
    "long-fill-in": set(),
    "matching": {"source", "target"},
    "performance": {"steps"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "numeric": set(),
    "other": set(),
}
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")


def fail(path: str, rule: str) -> StatementInvalid:
    """The error for a broken rule at a JSON path."""
    where = path or "statement"
    return StatementInvalid(f"{where}: {rule}", rule=rule, path=where)


def is_iri(value: Any) -> bool:
    """An absolute IRI: a scheme, a colon, no whitespace, at most MAX_IRI_LENGTH characters
    (the width of the columns that hold activity, verb and agent ids)."""
    return isinstance(value, str) and len(value) <= MAX_IRI_LENGTH and bool(_IRI.match(value))


def is_uuid(value: Any) -> bool:
    """A UUID in its canonical 8-4-4-4-12 hexadecimal form."""
    return isinstance(value, str) and bool(_UUID.match(value))


def is_language_tag(value: Any) -> bool:
    """An RFC 5646 language tag."""
    return isinstance(value, str) and bool(_LANG.match(value))


def parse_timestamp(value: Any, path: str = "timestamp") -> datetime:
    """An ISO 8601 / RFC 3339 timestamp as an aware UTC datetime; -00:00 offsets are refused."""
    if not isinstance(value, str):
        raise fail(path, "a timestamp must be an ISO 8601 string")
    match = _TIMESTAMP.match(value)
    if not match:
        raise fail(path, "a timestamp must be formatted according to ISO 8601")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone and zone.startswith("-") and set(zone[1:].replace(":", "")) == {"0"}:
        raise fail(path, "a timestamp must not use the offset -00:00")
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError as exc:
        raise fail(path, "a timestamp must be a valid date and time") from exc
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        return moment.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)
    return moment.replace(tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    """A UTC timestamp with millisecond precision and a Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Validator:
    """Validates statements for one xAPI version (1.0.x or 2.0.x rules)."""

    def __init__(self, version: str) -> None:
        self.v2 = version.startswith("2.")

    # --- generic helpers -------------------------------------------------------------------
    def _object(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise fail(path, "must be a JSON object")
        for key, item in value.items():
            if key not in allowed:
                raise fail(f"{path}.{key}" if path else key, "is not a property allowed here")
            if item is None:
                raise fail(f"{path}.{key}" if path else key, "must not be null")
        return value

    def _string(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise fail(path, "must be a string")

    def _bool(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise fail(path, "must be true or false")

    def _number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(path, "must be a number")
        return float(value)

    def _iri(self, value: Any, path: str) -> None:
        if not is_iri(value):
            raise fail(path, "must be an IRI with a scheme")

    def language_map(self, value: Any, path: str) -> None:
        """A language map: RFC 5646 tags to strings."""
        if not isinstance(value, dict):
            raise fail(path, "a language map must be a JSON object")
        for tag, text in value.items():
            if not is_language_tag(tag):
                raise fail(f"{path}.{tag}", "a language map key must be an RFC 5646 language tag")
            if not isinstance(text, str):
                raise fail(f"{path}.{tag}", "a language map value must be a string")

    def extensions(self, value: Any, path: str) -> None:
        """Extensions: an object whose keys are IRIs (values are free, even null)."""
        if not isinstance(value, dict):
            raise fail(path, "extensions must be a JSON object")
        for key in value:
            if not is_iri(key):
                raise fail(f"{path}.{key}", "an extension key must be an IRI")

    # --- actors ----------------------------------------------------------------------------
    def _ifis(self, value: dict[str, Any], path: str, *, required: bool) -> None:
        present = [k for k in IFI_KEYS if k in value]
        if len(present) > 1:
            raise fail(
                path, "an Agent or Group must not have more than one inverse functional identifier"
            )
        if required and not present:
            raise fail(path, "an Agent must have exactly one inverse functional identifier")
        if "mbox" in value and not (
            isinstance(value["mbox"], str) and _MAILTO.match(value["mbox"])
        ):
            raise fail(f"{path}.mbox", "mbox must be a mailto IRI")
        if "mbox_sha1sum" in value and not (
            isinstance(value["mbox_sha1sum"], str) and _SHA1.match(value["mbox_sha1sum"])
        ):
            raise fail(f"{path}.mbox_sha1sum", "mbox_sha1sum must be a hex SHA-1")
        if "openid" in value:
            self._iri(value["openid"], f"{path}.openid")
        if "account" in value:
            account = self._object(value["account"], f"{path}.account", {"homePage", "name"})
            if "homePage" not in account or "name" not in account:
                raise fail(f"{path}.account", "an account must have homePage and name")
            if not is_iri(account["homePage"]):
                raise fail(f"{path}.account.homePage", "homePage must be an IRL")
            self._string(account["name"], f"{path}.account.name")

    def agent(self, value: Any, path: str) -> None:
        """An Agent."""
        agent = self._object(value, path, {"objectType", "name", *IFI_KEYS})
        if agent.get("objectType", "Agent") != "Agent":
            raise fail(f"{path}.objectType", "an Agent's objectType must be 'Agent'")
        if "name" in agent:
            self._string(agent["name"], f"{path}.name")
        self._ifis(agent, path, required=True)

    def group(self, value: Any, path: str) -> None:
        """A Group, anonymous (members, no IFI) or identified (one IFI)."""
        group = self._object(value, path, {"objectType", "name", "member", *IFI_KEYS})
        if group.get("objectType") != "Group":
            raise fail(f"{path}.objectType", "a Group's objectType must be 'Group'")
        if "name" in group:
            self._string(group["name"], f"{path}.name")
        self._ifis(group, path, required=False)
        identified = any(k in group for k in IFI_KEYS)
        if "member" in group:
            members = group["member"]
            if not isinstance(members, list):
                raise fail(f"{path}.member", "a Group's member must be an array of Agents")
            for i, member in enumerate(members):
                if isinstance(member, dict) and member.get("objectType") == "Group":
                    raise fail(
                        f"{path}.member[{i}]", "a Group's members must be Agents, not Groups"
                    )
                self.agent(member, f"{path}.member[{i}]")
        if not identified and not group.get("member"):
            raise fail(f"{path}.member", "an anonymous Group must list its members")

    def actor(self, value: Any, path: str) -> None:
        """An Agent or a Group."""
        if isinstance(value, dict) and value.get("objectType") == "Group":
            self.group(value, path)
        else:
            self.agent(value, path)

    # --- verb, activity ---------------------------------------------------------------------
    def verb(self, value: Any, path: str) -> None:
        """A Verb: an IRI id and an optional display language map."""
        verb = self._object(value, path, {"id", "display"})
        if "id" not in verb:
            raise fail(f"{path}.id", "a Verb must have an id")
        self._iri(verb["id"], f"{path}.id")
        if "display" in verb:
            self.language_map(verb["display"], f"{path}.display")

    def activity(self, value: Any, path: str) -> None:
        """An Activity with an optional definition."""
        activity = self._object(value, path, {"objectType", "id", "definition"})
        if activity.get("objectType", "Activity") != "Activity":
            raise fail(f"{path}.objectType", "an Activity's objectType must be 'Activity'")
        if "id" not in activity:
            raise fail(f"{path}.id", "an Activity must have an id")
        self._iri(activity["id"], f"{path}.id")
        if "definition" in activity:
            self.definition(activity["definition"], f"{path}.definition")

    def definition(self, value: Any, path: str) -> None:
        """An Activity Definition, interaction properties included."""
        allowed = {
            "name",
            "description",
            "type",
            "moreInfo",
            "extensions",
            "interactionType",
            "correctResponsesPattern",
            *COMPONENT_LISTS,
        }
        definition = self._object(value, path, allowed)
        for key in ("name", "description"):
            if key in definition:
                self.language_map(definition[key], f"{path}.{key}")
        if "type" in definition:
            self._iri(definition["type"], f"{path}.type")
        if "moreInfo" in definition:
            self._iri(definition["moreInfo"], f"{path}.moreInfo")
        if "extensions" in definition:
            self.extensions(definition["extensions"], f"{path}.extensions")
        interaction = definition.get("interactionType")
        if interaction is not None and (
            not isinstance(interaction, str) or interaction not in INTERACTION_TYPES
        ):
            raise fail(f"{path}.interactionType", "interactionType must be one of the xAPI types")
        if "correctResponsesPattern" in definition:
            if interaction is None:
                raise fail(path, "correctResponsesPattern needs an interactionType")
            pattern = definition["correctResponsesPattern"]
            if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
                raise fail(f"{path}.correctResponsesPattern", "must be an array of strings")
        for key in COMPONENT_LISTS:
            if key not in definition:
                continue
            if interaction is None or key not in INTERACTION_TYPES[interaction]:
                raise fail(f"{path}.{key}", f"{key} is not allowed for this interactionType")
            components = definition[key]
            if not isinstance(components, list):
                raise fail(f"{path}.{key}", "interaction components must be an array")
            seen: set[str] = set()
            for i, component in enumerate(components):
                where = f"{path}.{key}[{i}]"
                item = self._object(component, where, {"id", "description"})
                if not isinstance(item.get("id"), str):
                    raise fail(f"{where}.id", "an interaction component must have a string id")
                if item["id"] in seen:
                    raise fail(f"{where}.id", "interaction component ids must be unique")
                seen.add(item["id"])
                if "description" in item:
                    self.language_map(item["description"], f"{where}.description")

    def statement_ref(self, value: Any, path: str) -> None:
        """A StatementRef."""
        ref = self._object(value, path, {"objectType", "id"})
        if ref.get("objectType") != "StatementRef":
            raise fail(f"{path}.objectType", "a StatementRef's objectType must be 'StatementRef'")
        if not is_uuid(ref.get("id")):
            raise fail(f"{path}.id", "a StatementRef must have a UUID id")

    def object(self, value: Any, path: str, *, in_substatement: bool = False) -> None:
        """A statement's object: Activity, Agent, Group, StatementRef or SubStatement."""
        if not isinstance(value, dict):
            raise fail(path, "must be a JSON object")
        kind = value.get("objectType", "Activity")
        if kind == "Activity":
            self.activity(value, path)
        elif kind == "Agent":
            self.agent(value, path)
        elif kind == "Group":
            self.group(value, path)
        elif kind == "StatementRef":
            self.statement_ref(value, path)
        elif kind == "SubStatement":
            if in_substatement:
                raise fail(path, "a SubStatement must not contain a SubStatement")
            self.substatement(value, path)
        else:
            raise fail(f"{path}.objectType", "objectType is not one of the xAPI object types")

    # --- result, context ----------------------------------------------------------------------
    def result(self, value: Any, path: str) -> None:
        """A Result."""
        allowed = {"score", "success", "completion", "response", "duration", "extensions"}
        result = self._object(value, path, allowed)
        if "score" in result:
            self.score(result["score"], f"{path}.score")
        for key in ("success", "completion"):
            if key in result:
                self._bool(result[key], f"{path}.{key}")
        if "response" in result:
            self._string(result["response"], f"{path}.response")
        if "duration" in result and not (
            isinstance(result["duration"], str) and _DURATION.match(result["duration"])
        ):
            raise fail(f"{path}.duration", "a duration must be an ISO 8601 duration")
        if "extensions" in result:
            self.extensions(result["extensions"], f"{path}.extensions")

    def score(self, value: Any, path: str) -> None:
        """A Score: scaled in [-1, 1], raw between min and max, min below max."""
        score = self._object(value, path, {"scaled", "raw", "min", "max"})
        numbers = {k: self._number(score[k], f"{path}.{k}") for k in score}
        if "scaled" in numbers and not -1 <= numbers["scaled"] <= 1:
            raise fail(f"{path}.scaled", "scaled must be between -1 and 1")
        low, high, raw = numbers.get("min"), numbers.get("max"), numbers.get("raw")
        if low is not None and high is not None and low >= high:
            raise fail(f"{path}.min", "min must be less than max")
        if raw is not None and low is not None and raw < low:
            raise fail(f"{path}.raw", "raw must not be less than min")
        if raw is not None and high is not None and raw > high:
            raise fail(f"{path}.raw", "raw must not be greater than max")

    def context(self, value: Any, path: str, object_is_activity: bool) -> None:
        """A Context (revision and platform only when the object is an Activity)."""
        allowed = {
            "registration",
            "instructor",
            "team",
            "contextActivities",
            "revision",
            "platform",
            "language",
            "statement",
            "extensions",
        }
        if self.v2:
            allowed |= {"contextAgents", "contextGroups"}
        context = self._object(value, path, allowed)
        if "registration" in context and not is_uuid(context["registration"]):
            raise fail(f"{path}.registration", "registration must be a UUID")
        if "instructor" in context:
            self.actor(context["instructor"], f"{path}.instructor")
        if "team" in context:
            team = context["team"]
            if not isinstance(team, dict) or team.get("objectType") != "Group":
                raise fail(f"{path}.team", "team must be a Group")
            self.group(team, f"{path}.team")
        for key in ("revision", "platform"):
            if key in context:
                if not object_is_activity:
                    raise fail(
                        f"{path}.{key}", f"{key} is allowed only when the object is an Activity"
                    )
                self._string(context[key], f"{path}.{key}")
        if "language" in context and not is_language_tag(context["language"]):
            raise fail(f"{path}.language", "language must be an RFC 5646 language tag")
        if "statement" in context:
            self.statement_ref(context["statement"], f"{path}.statement")
        if "extensions" in context:
            self.extensions(context["extensions"], f"{path}.extensions")
        if "contextActivities" in context:
            activities = self._object(
                context["contextActivities"],
                f"{path}.contextActivities",
                {"parent", "grouping", "category", "other"},
            )
            for key, item in activities.items():
                items = item if isinstance(item, list) else [item]
                for i, activity in enumerate(items):
                    self.activity(activity, f"{path}.contextActivities.{key}[{i}]")
        if "contextAgents" in context:
            self._context_members(context["contextAgents"], f"{path}.contextAgents", "agent")
        if "contextGroups" in context:
            self._context_members(context["contextGroups"], f"{path}.contextGroups", "group")

    def _context_members(self, value: Any, path: str, member: str) -> None:
        kind = "contextAgent" if member == "agent" else "contextGroup"
        if not isinstance(value, list):
            raise fail(path, f"must be an array of {kind} objects")
        for i, entry in enumerate(value):
            where = f"{path}[{i}]"
            item = self._object(entry, where, {"objectType", member, "relevantTypes"})
            if item.get("objectType") != kind:
                raise fail(f"{where}.objectType", f"objectType must be '{kind}'")
            if member not in item:
                raise fail(f"{where}.{member}", f"a {kind} must have {member}")
            if member == "agent":
                self.agent(item["agent"], f"{where}.agent")
            else:
                group = item["group"]
                if not isinstance(group, dict) or group.get("objectType") != "Group":
                    raise fail(f"{where}.group", "group must be a Group")
                self.group(group, f"{where}.group")
            if "relevantTypes" in item:
                types = item["relevantTypes"]
                if not isinstance(types, list) or not types:
                    raise fail(f"{where}.relevantTypes", "relevantTypes must be a non-empty array")
                for j, iri in enumerate(types):
                    self._iri(iri, f"{where}.relevantTypes[{j}]")

    # --- attachments --------------------------------------------------------------------------
    def attachments(self, value: Any, path: str) -> None:
        """Attachment metadata objects."""
        if not isinstance(value, list):
            raise fail(path, "attachments must be an array")
        allowed = {
            "usageType",
            "display",
            "description",
            "contentType",
            "length",
            "sha2",
            "fileUrl",
        }
        for i, entry in enumerate(value):
            where = f"{path}[{i}]"
            attachment = self._object(entry, where, allowed)
            for key in ("usageType", "display", "contentType", "length", "sha2"):
                if key not in attachment:
                    raise fail(f"{where}.{key}", f"an attachment must have {key}")
            self._iri(attachment["usageType"], f"{where}.usageType")
            self.language_map(attachment["display"], f"{where}.display")
            if "description" in attachment:
                self.language_map(attachment["description"], f"{where}.description")
            content_type = attachment["contentType"]
            if not isinstance(content_type, str) or not _MEDIA_TYPE.match(content_type):
                raise fail(f"{where}.contentType", "contentType must be an Internet media type")
            length = attachment["length"]
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise fail(f"{where}.length", "length must be a non-negative integer")
            if not isinstance(attachment["sha2"], str) or not re.fullmatch(
                r"[0-9a-fA-F]{56,128}", attachment["sha2"]
            ):
                raise fail(f"{where}.sha2", "sha2 must be a hex SHA-2 hash")
            if "fileUrl" in attachment:
                self._iri(attachment["fileUrl"], f"{where}.fileUrl")

    # --- statements -----------------------------------------------------------------------------
    def _core(self, statement: dict[str, Any], path: str, *, sub: bool) -> None:
        prefix = f"{path}." if path else ""
        for key in ("actor", "verb", "object"):
            if key not in statement:
                raise fail(f"{prefix}{key}", f"a statement must have {key}")
        self.actor(statement["actor"], f"{prefix}actor")
        self.verb(statement["verb"], f"{prefix}verb")
        self.object(statement["object"], f"{prefix}object", in_substatement=sub)
        if "result" in statement:
            self.result(statement["result"], f"{prefix}result")
        if "context" in statement:
            obj = statement["object"]
            is_activity = isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity"
            self.context(statement["context"], f"{prefix}context", is_activity)
        if "timestamp" in statement:
            parse_timestamp(statement["timestamp"], f"{prefix}timestamp")
        if "attachments" in statement:
            self.attachments(statement["attachments"], f"{prefix}attachments")

    def substatement(self, value: Any, path: str) -> None:
        """A SubStatement: no id, stored, version or authority."""
        allowed = {
            "objectType",
            "actor",
            "verb",
            "object",
            "result",
            "context",
            "timestamp",
            "attachments",
        }
        sub = self._object(value, path, allowed)
        self._core(sub, path, sub=True)

    def statement(self, value: Any) -> None:
        """A whole statement as a client sends it."""
        allowed = {
            "id",
            "actor",
            "verb",
            "object",
            "result",
            "context",
            "timestamp",
            "stored",
            "authority",
            "version",
            "attachments",
        }
        statement = self._object(value, "", allowed)
        if "id" in statement and not is_uuid(statement["id"]):
            raise fail("id", "a statement id must be a UUID")
        self._core(statement, "", sub=False)
        if "stored" in statement:
            parse_timestamp(statement["stored"], "stored")
        if "authority" in statement:
            authority = statement["authority"]
            self.actor(authority, "authority")
            if authority.get("objectType") == "Group":
                members = authority.get("member", [])
                if any(k in authority for k in IFI_KEYS) or len(members) != 2:
                    raise fail("authority", "an authority Group must be anonymous with two Agents")
        if "version" in statement:
            version = statement["version"]
            if not isinstance(version, str) or not _VERSION.match(version):
                raise fail("version", "version must be 1.0.x or 2.0.x")
            if version.startswith("2.") and not self.v2:
                raise fail("version", "version 2.0.x needs X-Experience-API-Version 2.0.x")
        verb = statement["verb"]
        if verb.get("id") == VOIDED_VERB:
            target = statement["object"]
            if target.get("objectType") != "StatementRef":
                raise fail("object", "a voiding statement's object must be a StatementRef")


def validate_statement(statement: Any, version: str) -> None:
    """Validate one statement under the rules of an xAPI version."""
    Validator(version).statement(statement)


def new_statement_id() -> str:
    """A fresh statement id."""
    return str(uuid.uuid4())
