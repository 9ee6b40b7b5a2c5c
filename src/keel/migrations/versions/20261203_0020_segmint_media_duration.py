"""segmint: a video attached to content records its duration in seconds (read from the file with
PyAV when it is attached), checked against each network's limit before scheduling; images keep NULL

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segmint_media") as batch:
        batch.add_column(sa.Column("duration", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segmint_media") as batch:
        batch.drop_column("duration")
