"""Isolation: a person link belongs to an institution (issue 10).

person_link.institution names the institution whose source system holds the id; a restricted
client sees and changes only its institutions' links (and their display names). Existing links
keep NULL: written by unrestricted clients, visible to unrestricted clients only.

Revision ID: rec0006_iso
Revises: rec0005
Create Date: 2026-12-01 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rec0006_iso"
down_revision: str | None = "rec0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("person_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("institution", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_person_link_institution", ["institution"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("person_link", schema=None) as batch_op:
        batch_op.drop_index("ix_person_link_institution")
        batch_op.drop_column("institution")
