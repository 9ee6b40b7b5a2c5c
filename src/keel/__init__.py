"""Keel: one Python backend platform, four apps."""

import sys as _sys

__version__ = "0.1.0"


def _import_advanced_alchemy_without_numpy() -> None:
    """advanced-alchemy imports numpy at import time when it is installed (to register JSON encoders for
    arrays Keel never serialises through it); numpy is here only for the speech engines, and costs a
    serving process ~0.3 s and ~20 MB at start. Hidden while advanced-alchemy loads (`find_spec` answers
    None for a name set to None in sys.modules), so numpy loads on first real use."""
    if "numpy" in _sys.modules or "advanced_alchemy" in _sys.modules:
        return
    _sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import advanced_alchemy.base  # noqa: F401
    finally:
        del _sys.modules["numpy"]


_import_advanced_alchemy_without_numpy()
