"""Tables of the xAPI LRS: statements, their query indexes, attachments, documents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, LargeBinary, Text
from sqlmodel import Field

from learning_records.models import LearningRecordsModel

#: A 64-bit key on PostgreSQL; SQLite autoincrements only INTEGER PRIMARY KEY.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class XapiStatement(LearningRecordsModel, table=True):
    """One statement as stored, with the keys its queries filter on and its mapping outcome."""

    __tablename__ = "xapi_statement"
    __table_args__ = (
        Index("ix_xapi_statement_verb_seq", "verb_id", "seq"),
        Index("ix_xapi_statement_registration_seq", "registration", "seq"),
        Index("ix_xapi_statement_object_ref", "object_ref_id"),
        Index("ix_xapi_statement_mapping_seq", "mapping_status", "seq"),
        Index("ix_xapi_statement_partition_seq", "partition", "seq"),
    )

    #: Monotonic storage sequence: the order of `stored` and the key of `more` paging.
    seq: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    statement_id: str = Field(max_length=36, unique=True)
    stored: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    timestamp: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    verb_id: str = Field(max_length=2048)
    actor_key: str | None = Field(default=None, max_length=2048)
    object_type: str = Field(max_length=16)
    object_key: str | None = Field(default=None, max_length=2048)
    #: The statement a StatementRef object points at (voiding statements included).
    object_ref_id: str | None = Field(default=None, max_length=36)
    registration: str | None = Field(default=None, max_length=36)
    voided: bool = False
    is_voiding: bool = False
    #: SHA-256 of the statement as submitted (minus LRS-set properties): immutability check.
    content_hash: str = Field(max_length=64)
    #: The statement exactly as the LRS returns it (format=exact), JSON.
    payload: str = Field(sa_column=Column(Text, nullable=False))
    has_attachments: bool = False
    client_id: str = Field(max_length=200)
    #: The writer's institutions (xapi/access.py): "" for an unrestricted writer.
    partition: str = Field(default="", max_length=1000)
    #: Outcome of the mapping: mapped, unmapped, rejected, error, reverted, ignored.
    mapping_status: str = Field(default="pending", max_length=16)
    mapping_detail: str | None = Field(default=None, max_length=500)


class XapiStatementAgent(LearningRecordsModel, table=True):
    """An Agent or Group a statement names; direct when it is the actor or the object."""

    __tablename__ = "xapi_statement_agent"

    #: The key first: the primary key is the index the agent filter reads.
    agent_key: str = Field(primary_key=True, max_length=2048)
    seq: int = Field(sa_column=Column(BIG_ID, primary_key=True))
    #: False when named only in context, authority or a SubStatement (related_agents=true).
    direct: bool


class XapiStatementActivity(LearningRecordsModel, table=True):
    """An Activity a statement names; direct when it is the object."""

    __tablename__ = "xapi_statement_activity"

    activity_id: str = Field(primary_key=True, max_length=2048)
    seq: int = Field(sa_column=Column(BIG_ID, primary_key=True))
    #: False when named only in context or a SubStatement (related_activities=true).
    direct: bool


class XapiAttachment(LearningRecordsModel, table=True):
    """Attachment content, stored once per partition and SHA-2 hash."""

    __tablename__ = "xapi_attachment"

    partition: str = Field(primary_key=True, max_length=1000)
    sha2: str = Field(primary_key=True, max_length=128)
    content_type: str = Field(max_length=255)
    length: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class XapiActivity(LearningRecordsModel, table=True):
    """The LRS's canonical definition of an Activity, merged from the statements naming it."""

    __tablename__ = "xapi_activity"

    activity_id: str = Field(primary_key=True, max_length=2048)
    definition: str = Field(sa_column=Column(Text, nullable=False))


class XapiDocument(LearningRecordsModel, table=True):
    """A state, activity profile or agent profile document."""

    __tablename__ = "xapi_document"
    __table_args__ = (
        Index(
            "ux_xapi_document_key",
            "partition",
            "kind",
            "activity_id",
            "agent_key",
            "registration",
            "document_id",
            unique=True,
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    #: The writer's institutions (xapi/access.py): each partition has its own documents.
    partition: str = Field(default="", max_length=1000)
    #: state, activity_profile or agent_profile.
    kind: str = Field(max_length=16)
    #: Empty string when the resource has no such key (unique indexes ignore NULLs).
    activity_id: str = Field(default="", max_length=2048)
    agent_key: str = Field(default="", max_length=2048)
    registration: str = Field(default="", max_length=36)
    document_id: str = Field(max_length=2048)
    content_type: str = Field(max_length=255)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    etag: str = Field(max_length=40)
    updated: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class XapiPartition(LearningRecordsModel, table=True):
    """Every partition that holds data: the institution sets a restricted reader is matched to."""

    __tablename__ = "xapi_partition"

    partition: str = Field(primary_key=True, max_length=1000)


class XapiCourseMapping(LearningRecordsModel, table=True):
    """Which catalog course an xAPI activity id stands for, for one client or for all.

    `owner` is the API client whose statements the mapping applies to (an LMS managing its own
    mappings with `xapi:mappings`), or "" for a global mapping (set by an unrestricted admin,
    applying to every client's statements unless the client has its own for the activity).
    """

    __tablename__ = "xapi_course_mapping"

    owner: str = Field(default="", primary_key=True, max_length=200)
    activity_id: str = Field(primary_key=True, max_length=2048)
    course_code: str = Field(max_length=64)
