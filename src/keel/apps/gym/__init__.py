"""Atomic Gym Tracker: exercise library, plans, sessions, records and CSV import/export."""
