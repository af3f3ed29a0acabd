"""Indicator definitions (every version kept) and hand-entered observations.

Revision ID: ind0002
Revises: ind0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "ind0002"
down_revision: str | None = "ind0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "indicator_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_definition")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_indicator_definition_code_version")),
    )
    with op.batch_alter_table("indicator_definition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indicator_definition_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_indicator_definition_plan"), ["plan"], unique=False)

    op.create_table(
        "indicator_observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("entered_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_observation")),
        sa.UniqueConstraint(
            "indicator_code",
            "observed_on",
            "source",
            name=op.f("uq_indicator_observation_indicator_code_observed_on_source"),
        ),
    )
    with op.batch_alter_table("indicator_observation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicator_observation_indicator_code"), ["indicator_code"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("indicator_observation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_observation_indicator_code"))

    op.drop_table("indicator_observation")
    with op.batch_alter_table("indicator_definition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_definition_plan"))
        batch_op.drop_index(batch_op.f("ix_indicator_definition_code"))

    op.drop_table("indicator_definition")
