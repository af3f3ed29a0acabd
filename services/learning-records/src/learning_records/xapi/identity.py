"""Identity keys of Agents, Groups and Activities, and the ones a statement names."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def agent_key(agent: Any) -> str | None:
    """The inverse functional identifier of an Agent or identified Group as one string."""
    if not isinstance(agent, dict):
        return None
    if "mbox" in agent:
        return f"mbox:{agent['mbox']}"
    if "mbox_sha1sum" in agent:
        return f"sha1:{str(agent['mbox_sha1sum']).lower()}"
    if "openid" in agent:
        return f"openid:{agent['openid']}"
    account = agent.get("account")
    if isinstance(account, dict):
        return f"account:{account.get('homePage')}|{account.get('name')}"
    return None


def _actor_keys(actor: Any) -> list[str]:
    """The keys of an actor: a Group's own IFI and its members'."""
    keys = []
    key = agent_key(actor)
    if key:
        keys.append(key)
    if isinstance(actor, dict) and actor.get("objectType") == "Group":
        for member in actor.get("member") or []:
            member_key = agent_key(member)
            if member_key:
                keys.append(member_key)
    return keys


def _context_activity_ids(context: dict[str, Any]) -> list[str]:
    ids = []
    for value in (context.get("contextActivities") or {}).values():
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict) and "id" in activity:
                ids.append(str(activity["id"]))
    return ids


def _context_agent_keys(context: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for name in ("instructor", "team"):
        if name in context:
            keys.extend(_actor_keys(context[name]))
    for entry in context.get("contextAgents") or []:
        keys.extend(_actor_keys(entry.get("agent")))
    for entry in context.get("contextGroups") or []:
        keys.extend(_actor_keys(entry.get("group")))
    return keys


def statement_index(statement: dict[str, Any]) -> tuple[dict[str, bool], dict[str, bool]]:
    """The agent keys and activity ids a statement names, each with whether it names it
    directly (actor or object) rather than only elsewhere (context, authority, SubStatement)."""
    agents: dict[str, bool] = {}
    activities: dict[str, bool] = {}

    def add_agent(key: str, direct: bool) -> None:
        agents[key] = agents.get(key, False) or direct

    def add_activity(activity_id: str, direct: bool) -> None:
        activities[activity_id] = activities.get(activity_id, False) or direct

    def walk(part: dict[str, Any], top: bool) -> None:
        for key in _actor_keys(part.get("actor")):
            add_agent(key, top)
        target = part.get("object") or {}
        kind = target.get("objectType", "Activity")
        if kind == "Activity" and "id" in target:
            add_activity(str(target["id"]), top)
        elif kind in ("Agent", "Group"):
            for key in _actor_keys(target):
                add_agent(key, top)
        elif kind == "SubStatement":
            walk(target, False)
        context = part.get("context") or {}
        for key in _context_agent_keys(context):
            add_agent(key, False)
        for activity_id in _context_activity_ids(context):
            add_activity(activity_id, False)

    walk(statement, True)
    for key in _actor_keys(statement.get("authority")):
        add_agent(key, False)
    return agents, activities


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal content, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_SECONDS = re.compile(r"(\d+)\.(\d+)S$")


def truncate_duration(duration: str) -> str:
    """A duration with its seconds truncated to hundredths (finer precision is not compared)."""
    return _SECONDS.sub(lambda m: f"{m.group(1)}.{m.group(2)[:2]}S", duration)


def comparable(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement as compared for sameness: durations truncated to hundredths of a second."""
    parts = [statement]
    target = statement.get("object")
    if isinstance(target, dict) and target.get("objectType") == "SubStatement":
        parts.append(target)
    out = dict(statement)
    for part in parts:
        result = part.get("result")
        if isinstance(result, dict) and isinstance(result.get("duration"), str):
            copy = {**result, "duration": truncate_duration(result["duration"])}
            if part is statement:
                out["result"] = copy
            else:
                out["object"] = {**target, "result": copy}  # type: ignore[dict-item]
    return out


def content_hash(statement: dict[str, Any]) -> str:
    """SHA-256 of a statement's content without the properties the LRS sets."""
    content = {
        k: v
        for k, v in comparable(statement).items()
        if k not in ("stored", "authority", "version", "id")
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()
