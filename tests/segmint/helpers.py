"""segmint test helpers: the API prefix, a local HTTP server standing in for publishing targets and an
OpenAI-compatible idea service, and content creation through the API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API = "/api/v1/segmint"


class FakeServer:
    """A real HTTP server on 127.0.0.1 recording every request; `statuses` forces the next answers
    (200 with `reply` by default)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.reply: Any = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    outer.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "status": status,
                        }
                    )
                    reply = outer.reply(len(outer.requests)) if callable(outer.reply) else outer.reply
                payload = json.dumps(reply if status < 300 else {"error": "forced"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ok_posts(self, path: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["status"] < 300 and (path is None or r["path"] == path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def create_content(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    body.setdefault("text", "Coffee first. Then write for an hour before any notifications.")
    body.setdefault("tone", "friendly")
    resp = await client.post(f"{API}/content", headers=headers, json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]
