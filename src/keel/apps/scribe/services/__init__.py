"""scribe services: uploads, transcription jobs within per-user limits, transcript edits, full-text
search, summaries and translations, exports. Routes stay thin; everything here works on one session and
never commits (the request transaction does), except the job runner in `keel.apps.scribe.tasks`.

One module per concept; this package re-exports the names routes and tasks use.
"""

from __future__ import annotations

from keel.apps.scribe.services.editing import edit_transcription, merge_segments, patch_segment, split_segment
from keel.apps.scribe.services.engine_choice import (
    ENGINE_PREFERENCE,
    available_engines,
    choose_engine,
    default_engine,
    engine_config,
    language_note,
    list_engines,
)
from keel.apps.scribe.services.exporting import render_export, to_export
from keel.apps.scribe.services.files import (
    SUPPORTED_UPLOADS,
    clean_filename,
    delete_file,
    file_read,
    get_file,
    get_storage,
    list_files,
    store_upload,
)
from keel.apps.scribe.services.transcriptions import (
    create_transcription,
    delete_transcription,
    get_transcription,
    list_transcriptions,
    request_cancel,
    transcription_read,
)
from keel.apps.scribe.services.usage import check_limits, usage

__all__ = [
    "ENGINE_PREFERENCE",
    "SUPPORTED_UPLOADS",
    "available_engines",
    "check_limits",
    "choose_engine",
    "clean_filename",
    "create_transcription",
    "default_engine",
    "delete_file",
    "delete_transcription",
    "edit_transcription",
    "engine_config",
    "file_read",
    "get_file",
    "get_storage",
    "get_transcription",
    "language_note",
    "list_engines",
    "list_files",
    "list_transcriptions",
    "merge_segments",
    "patch_segment",
    "render_export",
    "request_cancel",
    "split_segment",
    "store_upload",
    "to_export",
    "transcription_read",
    "usage",
]
