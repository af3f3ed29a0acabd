"""A client's own rate limit, and a version for its ETag (PATCH /admin/clients/{id}).

Revision ID: gw0004_gateway
Revises: gw0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gw0004_gateway"
down_revision: str | None = "gw0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add api_client.rate_limit_per_s, rate_limit_burst and version."""
    with op.batch_alter_table("api_client") as batch:
        batch.add_column(sa.Column("rate_limit_per_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("rate_limit_burst", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("api_client") as batch:
        batch.drop_column("version")
        batch.drop_column("rate_limit_burst")
        batch.drop_column("rate_limit_per_s")
