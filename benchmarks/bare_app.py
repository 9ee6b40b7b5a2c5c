"""The baseline: a bare Litestar hello world, served by the same uvicorn set-up as Keel."""

from litestar import Litestar, get


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[health])
