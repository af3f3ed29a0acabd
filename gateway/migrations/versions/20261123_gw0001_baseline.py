"""Baseline of the gateway schema (tables arrive in later revisions).

Revision ID: gw0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "gw0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet: the baseline gives readiness a head to compare with."""


def downgrade() -> None:
    """Nothing to revert."""
