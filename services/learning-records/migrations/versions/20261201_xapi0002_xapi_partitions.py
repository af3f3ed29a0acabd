"""xAPI partitions: statements, attachments and documents belong to their writer's institutions.

Adds `partition` (the writer's restriction set, "" for an unrestricted writer) to xapi_statement,
xapi_attachment (now keyed by partition and hash) and xapi_document (part of its unique key),
and the xapi_partition list. Rows stored before this revision get "": they stay visible to
unrestricted clients only (see docs/xapi.md).

Revision ID: xapi0002
Revises: rec0006_iso
Create Date: 2026-12-01 01:44:26.004429
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "xapi0002"
down_revision: str | None = "rec0006_iso"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT_KEY = ["kind", "activity_id", "agent_key", "registration", "document_id"]


def _partition_column() -> sa.Column[str]:
    # The server default fills existing rows; the application always sets the value.
    return sa.Column(
        "partition",
        sqlmodel.sql.sqltypes.AutoString(length=1000),
        nullable=False,
        server_default="",
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "xapi_partition",
        sa.Column("partition", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("partition", name=op.f("pk_xapi_partition")),
    )
    with op.batch_alter_table("xapi_attachment", schema=None) as batch_op:
        batch_op.add_column(_partition_column())
        batch_op.drop_constraint("pk_xapi_attachment", type_="primary")
        batch_op.create_primary_key("pk_xapi_attachment", ["partition", "sha2"])
    with op.batch_alter_table("xapi_document", schema=None) as batch_op:
        batch_op.add_column(_partition_column())
        batch_op.drop_index("ux_xapi_document_key")
        batch_op.create_index("ux_xapi_document_key", ["partition", *DOCUMENT_KEY], unique=True)
    with op.batch_alter_table("xapi_statement", schema=None) as batch_op:
        batch_op.add_column(_partition_column())
        batch_op.create_index("ix_xapi_statement_partition_seq", ["partition", "seq"], unique=False)
    for table in ("xapi_attachment", "xapi_document", "xapi_statement"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("partition", server_default=None)


def downgrade() -> None:
    """Revert this revision (only the unrestricted partition's documents and attachments can
    keep their old unique keys: the others are dropped)."""
    op.execute("DELETE FROM xapi_document WHERE partition <> ''")
    op.execute("DELETE FROM xapi_attachment WHERE partition <> ''")
    with op.batch_alter_table("xapi_statement", schema=None) as batch_op:
        batch_op.drop_index("ix_xapi_statement_partition_seq")
        batch_op.drop_column("partition")
    with op.batch_alter_table("xapi_document", schema=None) as batch_op:
        batch_op.drop_index("ux_xapi_document_key")
        batch_op.create_index("ux_xapi_document_key", DOCUMENT_KEY, unique=True)
        batch_op.drop_column("partition")
    with op.batch_alter_table("xapi_attachment", schema=None) as batch_op:
        batch_op.drop_constraint("pk_xapi_attachment", type_="primary")
        batch_op.create_primary_key("pk_xapi_attachment", ["sha2"])
        batch_op.drop_column("partition")
    op.drop_table("xapi_partition")
