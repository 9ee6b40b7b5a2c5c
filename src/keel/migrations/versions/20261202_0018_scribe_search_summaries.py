"""scribe: transcript revisions, summaries and translations beside a transcript, full-text search over
segment texts

SQLite gets an external-content FTS5 table kept in step by triggers; PostgreSQL a GIN index on the
segments' tsvector. Both are named `*_fts*`, which autogenerate leaves alone (keel.core.migrate).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# the PostgreSQL search document; keel.apps.scribe.services.search uses the same expression
PG_DOCUMENT = "to_tsvector('simple', text)"


def _common() -> list[sa.Column]:
    return [
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("transcription_id", GUID(length=16), nullable=False),
        sa.Column("engine", sa.String(length=100), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("scribe_transcription") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "scribe_summary",
        *_common(),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcription_id"],
            ["scribe_transcription.id"],
            name=op.f("fk_scribe_summary_transcription_id_scribe_transcription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scribe_summary")),
        sa.UniqueConstraint("transcription_id", name=op.f("uq_scribe_summary_transcription_id")),
    )
    op.create_table(
        "scribe_translation",
        *_common(),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcription_id"],
            ["scribe_transcription.id"],
            name=op.f("fk_scribe_translation_transcription_id_scribe_transcription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scribe_translation")),
        sa.UniqueConstraint(
            "transcription_id", "language", name=op.f("uq_scribe_translation_transcription_id")
        ),
    )
    op.create_index(
        op.f("ix_scribe_translation_transcription_id"),
        "scribe_translation",
        ["transcription_id"],
        unique=False,
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_scribe_segment_fts ON scribe_segment USING gin ({PG_DOCUMENT})")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE scribe_segment_fts USING fts5(text, content='scribe_segment', "
            "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER scribe_segment_fts_insert AFTER INSERT ON scribe_segment BEGIN "
            "INSERT INTO scribe_segment_fts(rowid, text) VALUES (new.rowid, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER scribe_segment_fts_delete AFTER DELETE ON scribe_segment BEGIN "
            "INSERT INTO scribe_segment_fts(scribe_segment_fts, rowid, text) "
            "VALUES ('delete', old.rowid, old.text); END"
        )
        op.execute(
            "CREATE TRIGGER scribe_segment_fts_update AFTER UPDATE OF text ON scribe_segment BEGIN "
            "INSERT INTO scribe_segment_fts(scribe_segment_fts, rowid, text) "
            "VALUES ('delete', old.rowid, old.text); "
            "INSERT INTO scribe_segment_fts(rowid, text) VALUES (new.rowid, new.text); END"
        )
        op.execute("INSERT INTO scribe_segment_fts(scribe_segment_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_scribe_segment_fts")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS scribe_segment_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS scribe_segment_fts")
    op.drop_index(op.f("ix_scribe_translation_transcription_id"), table_name="scribe_translation")
    op.drop_table("scribe_translation")
    op.drop_table("scribe_summary")
    with op.batch_alter_table("scribe_transcription") as batch:
        batch.drop_column("revision")
