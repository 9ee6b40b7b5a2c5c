"""A video attached to a draft (MP4, MOV or WebM, recognised by its bytes, its duration read from the file)
is published to each network through that network's documented upload, processing step included: X's
chunked INIT/APPEND/FINALIZE/STATUS, Mastodon's 202 and polling, Bluesky's blob in a video embed,
LinkedIn's Videos API; what a network would refuse (type, size, duration, a video with other media) is
refused before scheduling."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest

from keel.apps.segmint.networks import x as x_adapter
from segmint.helpers import API, create_content
from segmint.test_segmint_media import app, approve, attach, png, settings  # noqa: F401 - fixtures
from segmint.test_segmint_networks_bluesky import APP_PASSWORD
from segmint.test_segmint_networks_connect import connect
from segmint.test_segmint_publishing import soon, wait_schedule


def make_video(fmt: str = "mp4", seconds: float = 4.0, fps: int = 4) -> bytes:
    """A real video: `seconds` of 16x16 frames, encoded with FFmpeg (PyAV)."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream("libvpx" if fmt == "webm" else "mpeg4", rate=fps)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            pixels = np.full((16, 16, 3), (i * 37) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


async def test_a_video_is_uploaded_to_each_network_the_way_it_documents(
    client: Any, user_factory: Any, network_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await user_factory()
    targets = [
        (await connect(client, owner.headers, network_server, "x"))["id"],
        (await connect(client, owner.headers, network_server, "mastodon", instance=network_server.url))["id"],
        (await connect(client, owner.headers, network_server, "linkedin"))["id"],
    ]
    sky = await client.post(
        f"{API}/connections/bluesky",
        headers=owner.headers,
        json={"name": "sky", "identifier": "alice.example.com", "app_password": APP_PASSWORD},
    )
    targets.append(sky.json()["data"]["id"])
    clip = make_video("mp4", seconds=4)
    # several segments and parts even for a small file: the chunking is what is under test
    monkeypatch.setattr(x_adapter, "CHUNK_BYTES", math.ceil(len(clip) / 3))
    network_server.li_part_bytes = math.ceil(len(clip) / 2)

    cid = (await create_content(client, owner.headers, text="The bakery at dawn, in four seconds."))["id"]
    added = await attach(
        client, owner.headers, cid, clip, alt="Dough rising", name="dawn.bin", type="text/plain"
    )
    assert added.status_code == 201, added.text
    data = added.json()["data"]
    assert data["mime_type"] == "video/mp4" and data["size"] == len(clip)  # the bytes decide
    assert data["duration"] == pytest.approx(4.0, abs=0.3)

    await approve(client, user_factory, owner, cid)
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": targets},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid)
    assert result["status"] == "published", result

    uploaded = network_server.media
    # X: INIT with the size, three APPENDs in order, FINALIZE, STATUS until succeeded, then the post
    calls = [r for r in network_server.requests if r.path == "/2/media/upload"]
    commands = [r.body.get("command") if r.method == "POST" else "STATUS" for r in calls]
    assert commands == ["INIT", "APPEND", "APPEND", "APPEND", "FINALIZE", "STATUS", "STATUS"]
    init = calls[0].body
    assert (init["media_type"], init["total_bytes"], init["media_category"]) == (
        "video/mp4",
        str(len(clip)),
        "tweet_video",
    )
    assert [c.body["segment_index"] for c in calls[1:4]] == ["0", "1", "2"]
    tweet = next(p for p in network_server.posts if p["network"] == "x")
    (x_id,) = tweet["media"]["media_ids"]
    assert uploaded[x_id]["data"] == clip and uploaded[x_id]["state"] == "succeeded"

    # Mastodon: 202, polled (206, then 200 with the URL), then the status
    (toot_upload,) = network_server.seen("/api/v2/media")
    assert toot_upload.body["file"]["content_type"] == "video/mp4" and toot_upload.body["description"] == (
        "Dough rising"
    )
    toot = next(p for p in network_server.posts if p["network"] == "mastodon")
    (m_id,) = toot["media_ids"]
    assert len(network_server.seen(f"/api/v1/media/{m_id}")) == 2 and uploaded[m_id]["data"] == clip

    # Bluesky: the blob, as a video embed
    record = next(p for p in network_server.posts if p["network"] == "bluesky")["record"]
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.video" and embed["alt"] == "Dough rising"
    assert (
        embed["video"]["mimeType"] == "video/mp4" and uploaded[embed["video"]["ref"]["$link"]]["data"] == clip
    )

    # LinkedIn: initializeUpload, a PUT per part, finalizeUpload with the ETags in order, status, post
    post = next(p for p in network_server.posts if p["network"] == "linkedin")
    urn = post["content"]["media"]["id"]
    assert urn.startswith("urn:li:video:") and post["content"]["media"]["title"] == "Dough rising"
    video = uploaded[urn]
    assert (
        video["data"] == clip
        and video["owner"] == "urn:li:person:782bbtaQ"
        and video["status"] == "AVAILABLE"
    )
    puts = [r for r in network_server.requests if r.path.startswith("/li-video-upload/")]
    assert len(puts) == 2 and b"".join(r.body for r in puts) == clip
    (finalize,) = [
        r for r in network_server.requests if r.path == "/rest/videos" and "finalizeUploadRequest" in r.body
    ]
    assert finalize.body["finalizeUploadRequest"]["uploadedPartIds"] == list(video["parts"])
    assert len(network_server.seen(f"/rest/videos/{urn}")) == 2  # PROCESSING, then AVAILABLE


async def test_what_a_network_would_refuse_is_refused_before_scheduling(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner, stranger = await user_factory(), await user_factory()
    x_id = (await connect(client, owner.headers, network_server, "x"))["id"]
    li_id = (await connect(client, owner.headers, network_server, "linkedin"))["id"]

    # the bytes decide: a MOV named .mp4 is QuickTime, a WebM is WebM; audio and broken files are refused
    cid = (await create_content(client, owner.headers, text="A short one."))["id"]
    mov = await attach(
        client, owner.headers, cid, make_video("mov", seconds=1), name="a.mp4", type="video/mp4"
    )
    assert mov.status_code == 201 and mov.json()["data"]["mime_type"] == "video/quicktime"
    webm = await attach(client, owner.headers, cid, make_video("webm", seconds=2), name="b.mp4")
    assert webm.status_code == 201 and webm.json()["data"]["mime_type"] == "video/webm"
    assert webm.json()["data"]["duration"] == pytest.approx(2.0, abs=0.3)
    broken = await attach(
        client, owner.headers, cid, b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200, name="c.mp4"
    )
    assert broken.status_code == 415 and broken.json()["error"]["details"]["file"] == "not a playable video"
    audio = await attach(
        client, owner.headers, cid, b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 200, name="d.mp4"
    )
    assert audio.status_code == 415
    assert (await attach(client, stranger.headers, cid, make_video("mp4", seconds=1))).status_code == 404
    listed = (await client.get(f"{API}/content/{cid}/media", headers=owner.headers)).json()
    assert [m["mime_type"] for m in listed["data"]] == ["video/quicktime", "video/webm"]

    # two videos, and a WebM: X and LinkedIn say what they would refuse, and nothing is scheduled
    await approve(client, user_factory, owner, cid)
    refused = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=owner.headers,
        json={"publish_at": soon(60), "integration_ids": [x_id, li_id]},
    )
    assert refused.status_code == 422, refused.text
    details = refused.json()["error"]["details"]
    assert (
        "a video or GIF must be the only media" in details["x"]
        and "video/webm is not accepted" in details["x"]
    )
    assert "video/quicktime is not accepted" in details["linkedin"]

    # one video with an image, and a video too short for LinkedIn
    short = (await create_content(client, owner.headers, text="Blink."))["id"]
    assert (await attach(client, owner.headers, short, make_video("mp4", seconds=1))).status_code == 201
    assert (await attach(client, owner.headers, short, png(1))).status_code == 201
    await approve(client, user_factory, owner, short)
    refused = await client.post(
        f"{API}/content/{short}/schedules",
        headers=owner.headers,
        json={"publish_at": soon(60), "integration_ids": [li_id]},
    )
    problem = refused.json()["error"]["details"]["linkedin"]
    assert "a video must be the only media" in problem and "shorter than 3 s" in problem
    assert not network_server.posts and network_server.media == {}

    # the rules per network, without attaching anything
    checked = await client.post(
        f"{API}/networks/validate",
        headers=owner.headers,
        json={
            "text": "hi",
            "networks": ["x", "bluesky", "linkedin", "mastodon"],
            "media": [{"mime_type": "video/mp4", "size": 200 * 1024 * 1024, "duration": 200}],
        },
    )
    problems = {c["network"]: c["problems"] for c in checked.json()["data"]}
    assert problems["x"] == ["X: a video of 200 s is longer than 140 s; trim it"]
    assert problems["bluesky"] == [
        "Bluesky: a video of 209715200 bytes is over the 104857600 byte limit",
        "Bluesky: a video of 200 s is longer than 180 s; trim it",
    ]
    assert problems["linkedin"] == []
    assert problems["mastodon"] == ["Mastodon: a video of 209715200 bytes is over the 103809024 byte limit"]
    bad = await client.post(
        f"{API}/networks/validate",
        headers=owner.headers,
        json={
            "text": "hi",
            "networks": ["x"],
            "media": [{"mime_type": "video/mp4", "size": 1, "duration": -1}],
        },
    )
    assert bad.status_code == 400


async def test_a_video_the_network_fails_to_process_fails_that_target_with_its_words(
    client: Any, user_factory: Any, network_server: Any
) -> None:
    owner = await user_factory()
    targets = [
        (await connect(client, owner.headers, network_server, "x"))["id"],
        (await connect(client, owner.headers, network_server, "linkedin"))["id"],
    ]
    network_server.processing_fails = True
    cid = (await create_content(client, owner.headers, text="A clip X and LinkedIn will not take."))["id"]
    assert (await attach(client, owner.headers, cid, make_video("mp4", seconds=4))).status_code == 201
    await approve(client, user_factory, owner, cid)
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": targets},
        )
    ).json()["data"]["id"]
    result = await wait_schedule(client, owner.headers, sid)
    assert result["status"] == "failed", result
    errors = sorted((d["error"], d["attempts"]) for d in result["deliveries"])
    assert errors == [
        ("LinkedIn could not process the video", 1),
        ("X could not process the video: Unsupported video codec", 1),
    ]  # final at once: processing failed is no transient error
    assert not network_server.posts
