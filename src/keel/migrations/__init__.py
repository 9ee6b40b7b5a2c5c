"""The one Alembic history for every table of the core and all apps."""
