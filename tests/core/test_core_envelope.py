"""The envelope and error shapes a client relies on, for the failures any route can produce."""

from __future__ import annotations

import re


async def test_health_answers_success_envelope_with_request_id(client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["status"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_incoming_request_id_is_echoed_in_header_and_error_body(client) -> None:
    response = await client.get("/no/such/route", headers={"X-Request-ID": "trace-abc.123"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-abc.123"
    body = response.json()
    assert body == {
        "status": "error",
        "error": {"code": "NOT_FOUND", "message": body["error"]["message"], "details": None},
        "request_id": "trace-abc.123",
    }


async def test_unsafe_request_id_is_replaced(client) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"


async def test_wrong_method_is_405_envelope(client) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_oversize_query_string_is_414(client, settings) -> None:
    response = await client.get("/health?q=" + "x" * (settings.max_query_string + 1))
    assert response.status_code == 414
    assert response.json()["error"]["code"] == "URI_TOO_LONG"


async def test_security_headers_on_api_responses(client) -> None:
    response = await client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "camera=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers  # HSTS only in production


async def test_ready_reports_each_dependency(client) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["data"]["checks"]["database"] == "ok"


async def test_openapi_documents_error_envelope_on_every_operation(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["paths"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = {c for c in operation["responses"] if c.startswith("4")}
            assert codes, f"{method.upper()} {path} documents no error response"
