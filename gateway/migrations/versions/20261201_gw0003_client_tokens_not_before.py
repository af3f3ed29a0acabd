"""A client's revocation instant: tokens issued before it are refused everywhere.

Revision ID: gw0003
Revises: gw0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gw0003"
down_revision: str | None = "gw0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add api_client.tokens_not_before."""
    with op.batch_alter_table("api_client") as batch:
        batch.add_column(sa.Column("tokens_not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("api_client") as batch:
        batch.drop_column("tokens_not_before")
