"""scribe: media files, transcriptions, segments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

sa.GUID = GUID
sa.DateTimeUTC = DateTimeUTC


def upgrade() -> None:
    op.create_table(
        "scribe_file",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("container", sa.String(length=100), nullable=False),
        sa.Column("audio_codec", sa.String(length=50), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("has_video", sa.Boolean(), nullable=False),
        sa.Column("video_codec", sa.String(length=50), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_scribe_file_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scribe_file")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_scribe_file_storage_key")),
    )
    op.create_index("ix_scribe_file_owner_created", "scribe_file", ["owner_id", "created_at"], unique=False)
    op.create_table(
        "scribe_transcription",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("owner_id", sa.GUID(length=16), nullable=False),
        sa.Column("file_id", sa.GUID(length=16), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("detected_language", sa.String(length=10), nullable=True),
        sa.Column("engine", sa.String(length=30), nullable=False),
        sa.Column("word_timestamps", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("speakers", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["scribe_file.id"],
            name=op.f("fk_scribe_transcription_file_id_scribe_file"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_scribe_transcription_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scribe_transcription")),
    )
    op.create_index(
        op.f("ix_scribe_transcription_file_id"), "scribe_transcription", ["file_id"], unique=False
    )
    op.create_index(
        "ix_scribe_transcription_owner_created",
        "scribe_transcription",
        ["owner_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_scribe_transcription_status", "scribe_transcription", ["status"], unique=False)
    op.create_table(
        "scribe_segment",
        sa.Column("id", sa.GUID(length=16), nullable=False),
        sa.Column("transcription_id", sa.GUID(length=16), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("speaker", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcription_id"],
            ["scribe_transcription.id"],
            name=op.f("fk_scribe_segment_transcription_id_scribe_transcription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scribe_segment")),
        sa.UniqueConstraint("transcription_id", "index", name=op.f("uq_scribe_segment_transcription_id")),
    )


def downgrade() -> None:
    op.drop_table("scribe_segment")
    op.drop_index("ix_scribe_transcription_status", table_name="scribe_transcription")
    op.drop_index("ix_scribe_transcription_owner_created", table_name="scribe_transcription")
    op.drop_index(op.f("ix_scribe_transcription_file_id"), table_name="scribe_transcription")
    op.drop_table("scribe_transcription")
    op.drop_index("ix_scribe_file_owner_created", table_name="scribe_file")
    op.drop_table("scribe_file")
