"""The pages behind the links identity mails (verify-email, reset-password).

`FRONTEND_URL` defaults to this server, so a fresh install's mails lead somewhere: two small, accessible
forms that post the link's token to the API. A click is required (mail scanners open links; a GET must
not confirm anything). A project with its own frontend points `FRONTEND_URL` there instead.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException

_PAGES = files("keel.identity") / "data" / "pages"
_ASSET_TYPES = {"account.js": "text/javascript; charset=utf-8", "account.css": "text/css; charset=utf-8"}
_NO_STORE = {"Cache-Control": "no-store"}  # the token is in the address when the page loads


@cache
def _read(name: str) -> bytes:
    return (_PAGES / name).read_bytes()


@cache
def _render(name: str, title: str) -> bytes:
    """`page.html` (the head and frame every page shares) around the form in `<name>.form.html`."""
    layout = Template(_read("page.html").decode())
    form = _read(f"{name}.form.html").decode().rstrip("\n")
    return layout.substitute(title=title, form=form).encode()


def _page(name: str, title: str) -> Response[bytes]:
    return Response(_render(name, title), media_type="text/html; charset=utf-8", headers=_NO_STORE)


class AccountPagesController(Controller):
    include_in_schema = False
    opt = {"rate_limit": None}

    @get("/verify-email")
    async def verify_email_page(self) -> Response[bytes]:
        return _page("verify-email", "Confirm your email address")

    @get("/reset-password")
    async def reset_password_page(self) -> Response[bytes]:
        return _page("reset-password", "Choose a new password")

    @get("/account/assets/{name:str}")
    async def account_asset(self, name: str) -> Response[bytes]:
        media_type = _ASSET_TYPES.get(name)
        if media_type is None:
            raise NotFoundException()
        return Response(_read(name), media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})
