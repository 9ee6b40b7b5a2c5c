"""The ASGI entry point servers import: `keel.asgi:app`."""

from keel import long_lived
from keel.app import create_app

with long_lived():  # the routes, signature models and mapped classes serve until the process ends
    app = create_app()
