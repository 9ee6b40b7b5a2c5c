"""The platform core every app builds on: database, errors, envelope, edge, limits, cache, jobs, storage."""
