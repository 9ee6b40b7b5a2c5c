"""scribe: Whisper prompt and temperature per transcription, and why a language was not detected

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scribe_transcription") as batch:
        batch.add_column(sa.Column("prompt", sa.Text(), nullable=True))
        batch.add_column(sa.Column("temperature", sa.Float(), nullable=True))
        batch.add_column(sa.Column("language_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scribe_transcription") as batch:
        batch.drop_column("language_note")
        batch.drop_column("temperature")
        batch.drop_column("prompt")
