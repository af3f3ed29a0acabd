"""Audit entries keep their token's id, so an entry made with a sign-in's token names the person.

Revision ID: gw0009_audit_token
Revises: gw0008_oidc
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "gw0009_audit_token"
down_revision: str | None = "gw0008_oidc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add audit_entry.token_id and index it and oidc_sign_in.token_id (the join)."""
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(
            sa.Column("token_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    op.create_index("ix_audit_entry_token_id", "audit_entry", ["token_id"])
    op.create_index("ix_oidc_sign_in_token_id", "oidc_sign_in", ["token_id"])


def downgrade() -> None:
    """Drop the column and both indexes."""
    op.drop_index("ix_oidc_sign_in_token_id", table_name="oidc_sign_in")
    op.drop_index("ix_audit_entry_token_id", table_name="audit_entry")
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("token_id")
