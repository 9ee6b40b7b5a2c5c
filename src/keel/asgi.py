"""The ASGI entry point servers import: `keel.asgi:app`."""

from keel.app import create_app

app = create_app()
