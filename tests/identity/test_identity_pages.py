"""The links identity mails lead to pages this server serves: a person clicks through both in Chromium."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Page, async_playwright

from core_platform_helpers import free_port
from fixtures.identity import DEFAULT_PASSWORD, Mailbox
from keel.app import create_app

CHROMIUM = "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
NEW_PASSWORD = "A brand new pass 2 with spaces!"  # noqa: S105 - test data

pytestmark = pytest.mark.slow


@asynccontextmanager
async def running(make_settings: Any, smtp_server: Mailbox) -> AsyncIterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=smtp_server.port, frontend_url=base)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server failed to start"
        await asyncio.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def browser_page() -> AsyncIterator[Page]:
    assert HAS_CHROMIUM, "needs the chromium Debian package (.ci/run installs it)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


async def mailed_link(mailbox: Mailbox, to: str, page: str) -> str:
    """The link to PAGE in the newest mail to TO that has one (registration also mails a link)."""
    for _ in range(250):
        for message in reversed(mailbox.to(to)):
            body = message.get_payload(decode=True).decode()
            match = re.search(rf"https?://\S+/{page}\?token=[A-Za-z0-9_\-.]+", body)
            if match:
                return match.group(0)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {page} link mailed to {to}")


async def test_reset_password_link_opens_a_form_that_sets_the_new_password(
    make_settings, smtp_server
) -> None:
    async with running(make_settings, smtp_server) as base, httpx.AsyncClient(base_url=base) as http:
        email = "pages-reset@example.com"
        registered = await http.post(
            "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        assert (await http.post("/api/v1/auth/password-reset", json={"email": email})).status_code == 202
        link = await mailed_link(smtp_server, email, "reset-password")
        assert link.startswith(f"{base}/reset-password?token=")

        async with browser_page() as page:
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.goto(link)
            assert "token" not in page.url  # read once, then out of the address bar and history
            await page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
            await page.get_by_label("Repeat the new password").fill("something else entirely 3")
            await page.get_by_role("button", name="Set the new password").click()
            await page.get_by_text("The two passwords differ.").wait_for()

            await page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
            await page.get_by_role("button", name="Set the new password").click()
            await page.get_by_text("Your password is changed").wait_for(timeout=15_000)
            assert not errors, errors  # the CSP allows everything the page needs

        old = await http.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
        new = await http.post("/api/v1/auth/login", json={"email": email, "password": NEW_PASSWORD})
        assert old.status_code == 401 and new.status_code == 200, (old.text, new.text)

        async with browser_page() as page:  # the same link a second time: said plainly, nothing changes
            await page.goto(link)
            await page.get_by_label("New password", exact=True).fill("Yet another pass 4 here!")
            await page.get_by_label("Repeat the new password").fill("Yet another pass 4 here!")
            await page.get_by_role("button", name="Set the new password").click()
            status = page.locator("#status.error")
            await status.wait_for(timeout=15_000)
            assert (
                "invalid" in (await status.inner_text()).lower()
                or "expired" in (await status.inner_text()).lower()
            )
        still = await http.post("/api/v1/auth/login", json={"email": email, "password": NEW_PASSWORD})
        assert still.status_code == 200


async def test_verify_email_link_needs_a_click_and_confirms_the_address(make_settings, smtp_server) -> None:
    async with running(make_settings, smtp_server) as base, httpx.AsyncClient(base_url=base) as http:
        email = "pages-verify@example.com"
        registered = await http.post(
            "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
        smtp_server.messages.clear()  # registration's own verification mail: use the one asked for now
        assert (await http.post("/api/v1/auth/verify-email", headers=headers)).status_code == 202
        link = await mailed_link(smtp_server, email, "verify-email")
        assert link.startswith(f"{base}/verify-email?token=")

        page_only = await http.get(link)  # a mail scanner fetching the link confirms nothing
        assert page_only.status_code == 200 and page_only.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page_only.headers["content-security-policy"]
        me = await http.get("/api/v1/users/me", headers=headers)
        assert me.json()["data"]["is_verified"] is False

        async with browser_page() as page:
            await page.goto(link)
            await page.get_by_role("button", name="Confirm my address").click()
            await page.get_by_text("Your email address is confirmed.").wait_for(timeout=15_000)
        me = await http.get("/api/v1/users/me", headers=headers)
        assert me.json()["data"]["is_verified"] is True


async def test_a_link_without_a_token_says_so(make_settings, smtp_server) -> None:
    async with running(make_settings, smtp_server) as base, browser_page() as page:
        await page.goto(f"{base}/verify-email")
        await page.get_by_text("This link has no token").wait_for()
        assert await page.get_by_role("button", name="Confirm my address").is_disabled()
