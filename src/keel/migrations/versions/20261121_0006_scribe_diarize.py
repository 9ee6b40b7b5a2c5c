"""scribe: transcriptions remember whether speaker turns were asked for

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scribe_transcription") as batch:
        batch.add_column(sa.Column("diarize", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("scribe_transcription") as batch:
        batch.drop_column("diarize")
