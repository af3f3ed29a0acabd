"""The sign-in log of people signed in through an OpenID Connect provider (token exchange).

Revision ID: gw0008_oidc
Revises: gw0004_gateway
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "gw0008_oidc"
down_revision: str | None = "gw0004_gateway"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create oidc_sign_in."""
    op.create_table(
        "oidc_sign_in",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("institutions", sa.JSON(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_sign_in_at", "oidc_sign_in", ["at"])
    op.create_index("ix_oidc_sign_in_subject", "oidc_sign_in", ["subject"])


def downgrade() -> None:
    """Drop oidc_sign_in."""
    op.drop_index("ix_oidc_sign_in_subject", table_name="oidc_sign_in")
    op.drop_index("ix_oidc_sign_in_at", table_name="oidc_sign_in")
    op.drop_table("oidc_sign_in")
