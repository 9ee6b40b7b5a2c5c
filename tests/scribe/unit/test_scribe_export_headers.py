"""Export responses name their charset once (`text/vtt; charset=utf-8`), however Litestar composes the
header: the renderers give bare text types and the response adds the charset."""

from __future__ import annotations

import pytest
from litestar import Response, get
from litestar.testing import create_test_client

from keel.apps.scribe.engines import Segment
from keel.apps.scribe.exports import Transcript, render
from keel.core.realtime import sse_comment


def _transcript() -> Transcript:
    return Transcript(
        title="Sync",
        language="en",
        duration=2.0,
        segments=[Segment(0.0, 2.0, "Grüße aus Köln", speaker="S1")],
    )


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("txt", "text/plain; charset=utf-8"),
        ("vtt", "text/vtt; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"),
        ("srt", "application/x-subrip; charset=utf-8"),
    ],
)
def test_export_content_type_has_one_charset(fmt: str, expected: str) -> None:
    rendered = render(_transcript(), fmt)

    @get("/export", sync_to_thread=False)
    def export() -> Response[bytes]:  # what the export route answers
        return Response(content=rendered.data, media_type=rendered.content_type)

    with create_test_client([export]) as client:
        response = client.get("/export")
    assert response.headers["content-type"] == expected
    assert "Grüße aus Köln" in response.content.decode("utf-8-sig")


def test_keepalive_is_a_comment_not_an_empty_event() -> None:
    # an empty `data:` line would make browsers dispatch an empty `message` event
    assert sse_comment("keep-alive").encode() == b": keep-alive\r\n\r\n"
