"""segmint: `segmint_schedule.claimed_until`, the lease of the run publishing a schedule, so two processes
that both re-queued it deliver once

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segmint_schedule") as batch:
        batch.add_column(sa.Column("claimed_until", DateTimeUTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segmint_schedule") as batch:
        batch.drop_column("claimed_until")
