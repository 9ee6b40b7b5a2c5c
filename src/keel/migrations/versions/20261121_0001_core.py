"""Core platform tables (none yet; anchors the chain)

Revision ID: 0001
Revises: None
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

sa.GUID = GUID
sa.DateTimeUTC = DateTimeUTC


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
