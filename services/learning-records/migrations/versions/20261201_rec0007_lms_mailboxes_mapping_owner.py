"""LMS self-service: course mappings owned per API client; work mailboxes of people (SHA-1 only).

`xapi_course_mapping` gets `owner` (the client whose statements a mapping applies to, "" for a
global mapping: every existing mapping stays global) and is keyed (owner, activity_id).
`person_mailbox` keeps the xAPI `mbox_sha1sum` of a person's work address per institution.

Revision ID: rec0007_lms
Revises: rec0007_strategies
Create Date: 2026-12-01 04:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "rec0007_lms"
down_revision: str | None = "rec0007_strategies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("xapi_course_mapping", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "owner",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.drop_constraint("pk_xapi_course_mapping", type_="primary")
        batch_op.create_primary_key("pk_xapi_course_mapping", ["owner", "activity_id"])
    with op.batch_alter_table("xapi_course_mapping", schema=None) as batch_op:
        batch_op.alter_column("owner", server_default=None)
    op.create_table(
        "person_mailbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mbox_sha1sum", sa.String(length=40), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_person_mailbox_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_mailbox")),
        sa.UniqueConstraint(
            "institution", "mbox_sha1sum", name=op.f("uq_person_mailbox_institution_mbox_sha1sum")
        ),
    )
    with op.batch_alter_table("person_mailbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_person_mailbox_institution"), ["institution"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_mailbox_mbox_sha1sum"), ["mbox_sha1sum"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_person_mailbox_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision (client-owned mappings are dropped: only global ones fit the old
    key)."""
    with op.batch_alter_table("person_mailbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_mailbox_person_id"))
        batch_op.drop_index(batch_op.f("ix_person_mailbox_mbox_sha1sum"))
        batch_op.drop_index(batch_op.f("ix_person_mailbox_institution"))
    op.drop_table("person_mailbox")
    op.execute("DELETE FROM xapi_course_mapping WHERE owner <> ''")
    with op.batch_alter_table("xapi_course_mapping", schema=None) as batch_op:
        batch_op.drop_constraint("pk_xapi_course_mapping", type_="primary")
        batch_op.create_primary_key("pk_xapi_course_mapping", ["activity_id"])
        batch_op.drop_column("owner")
