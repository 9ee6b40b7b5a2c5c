"""Keel: one Python backend platform, four apps."""

__version__ = "0.1.0"
