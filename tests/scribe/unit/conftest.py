"""The speech fixtures (speech_dir, speech_wav, ...) live in tests/scribe/conftest.py (shared)."""
