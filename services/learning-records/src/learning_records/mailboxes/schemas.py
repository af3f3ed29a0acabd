"""Request and answer shapes of the mailbox registration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Most mailboxes in one registration call.
MAX_ITEMS = 5000


class MailboxItem(BaseModel):
    """One person's work address (or its xAPI `mbox_sha1sum`), named the way HR knows them."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(
        default=None,
        max_length=320,
        description="The work e-mail address (hashed at once, never stored or echoed)",
        json_schema_extra={"writeOnly": True},
    )
    mbox_sha1sum: str | None = Field(
        default=None,
        pattern="^[0-9a-fA-F]{40}$",
        description='Instead of `email`: SHA-1 (hex) of "mailto:" + the lower-cased address',
    )
    source_system: str | None = Field(
        default=None, max_length=64, description="The HR system holding `external_id`"
    )
    external_id: str | None = Field(
        default=None, max_length=128, description="The HR system's id of the person"
    )
    personal_code: str | None = Field(
        default=None, max_length=32, json_schema_extra={"writeOnly": True}
    )
    pseudonym: str | None = Field(default=None, max_length=64)
    remove: bool = Field(default=False, description="Remove this mailbox instead")


class MailboxRegistration(BaseModel):
    """A batch of mailboxes of one institution's people."""

    model_config = ConfigDict(extra="forbid")

    source_system: str = Field(
        min_length=1,
        max_length=64,
        description="The registering HR system (and the default source of `external_id`s)",
    )
    items: list[MailboxItem] = Field(min_length=1, max_length=MAX_ITEMS)


class MailboxOutcome(BaseModel):
    """What became of one item (the address itself is never echoed)."""

    index: int
    mbox_sha1sum: str | None
    outcome: Literal["registered", "unchanged", "moved", "removed", "not_found", "rejected"]
    detail: str | None = None


class MailboxReport(BaseModel):
    """Per-item outcomes of a registration, and counts per outcome."""

    institution: str
    counts: dict[str, int]
    items: list[MailboxOutcome]
