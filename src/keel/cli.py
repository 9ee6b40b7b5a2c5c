"""The `keel` command: serve, migrate, seed, worker, createadmin, openapi, new."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from keel.core.components import AppSpec
from keel import __version__, long_lived
from keel.settings import Settings, SettingsError, get_settings


def _settings() -> Settings:
    """The settings, with logging configured once for this run (one format for every command)."""
    from keel.core.logging import configure_logging

    try:
        settings = get_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _enabled_apps(settings: Settings) -> list[AppSpec]:
    from keel.app import enabled_apps

    try:
        return enabled_apps(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


class KeelGroup(click.Group):
    """Refusals the user can fix print one line, `Error: <what to change>`, and exit 1: no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SettingsError as exc:
            raise click.ClickException(_one_line(exc)) from exc
        except (ConnectionError, TimeoutError) as exc:
            raise click.ClickException(
                f"cannot reach a service ({_one_line(exc)}): check DATABASE_URL and REDIS_URL"
            ) from exc
        except Exception as exc:
            # imported only now: the metrics must not load before PROMETHEUS_MULTIPROC_DIR exists
            from sqlalchemy.exc import OperationalError

            from keel.core.errors import KeelError
            from keel.core.scaffold import ScaffoldError

            if isinstance(exc, KeelError | ScaffoldError):
                raise click.ClickException(_one_line(exc)) from exc
            if isinstance(exc, OperationalError):
                raise click.ClickException(
                    f"cannot use the database ({_one_line(exc.orig or exc)}): check DATABASE_URL"
                ) from exc
            raise


def _prepare_metrics_dir() -> None:
    """prometheus_client refuses to start when PROMETHEUS_MULTIPROC_DIR names a folder that does not
    exist yet: create it before anything imports the metrics."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(
                f"PROMETHEUS_MULTIPROC_DIR={path} cannot be created ({exc.strerror}): point it at a "
                "writable folder"
            ) from exc


def _exit_after_drain(*_: object) -> None:
    """uvicorn has drained and re-raised SIGTERM: exit 0. The interpreter's final garbage collection
    would walk the whole heap first (seconds on a loaded machine, after the drain); the process is ending,
    so its objects are frozen out of it (`gc.freeze`); atexit handlers still run."""
    import gc

    gc.freeze()
    sys.exit(0)


@click.group(
    cls=KeelGroup, help="Keel: one backend platform, four apps. Settings come from the environment and .env."
)
@click.version_option(__version__, "--version", "-V", prog_name="keel", message="%(prog)s %(version)s")
def main() -> None:
    _prepare_metrics_dir()


@main.command(help="Serve the API with uvicorn (graceful shutdown on SIGTERM within SHUTDOWN_TIMEOUT).")
@click.option("--host", default=None, help="Bind address (default HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default PORT, 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (default WORKERS, 1).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str | None, port: int | None, workers: int | None, reload: bool) -> None:
    import uvicorn

    from keel.core.protocol import http_protocol

    settings = _settings()
    processes = 1 if reload else (workers or settings.workers)
    if processes > 1 and not settings.redis_url:
        # without Redis every process keeps its own limits, realtime subscribers and caches: refuse
        raise click.ClickException(
            f"{processes} workers need REDIS_URL (rate limits, realtime events and caches are per process "
            "without it); set REDIS_URL or serve with --workers 1"
        )
    if processes > 1 or settings.prometheus_multiproc_dir:
        # every worker (and a `keel worker` given the same folder) writes its metrics here so /metrics
        # adds them up; cleared at each start
        metrics_dir = Path(settings.prometheus_multiproc_dir or "var/prometheus")
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    # one worker and no folder given: the in-process registry, which /metrics reads directly (a
    # multiprocess sample takes a lock, a pid check and an mmap write: ~50 Python calls of /users/me)
    from keel.core.schema_state import schema_problem

    with long_lived():  # the modules imported here (SQLAlchemy, the apps) serve until the process ends
        problem = schema_problem(settings.database_url)
        if problem:
            raise click.ClickException(problem)
        _enabled_apps(settings)  # a typo in KEEL_APPS: one line before uvicorn starts (metrics dir set first)
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal to the previous handler:
    # make that a clean exit (status 0) instead of death by signal
    signal.signal(signal.SIGTERM, _exit_after_drain)
    uvicorn.run(
        "keel.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=None if reload else processes,
        reload=reload,
        http=http_protocol(),  # uvicorn's own 400s (an unreadable request) in the error envelope
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        proxy_headers=False,  # the edge takes the client IP from TRUSTED_PROXIES only
        server_header=False,
        access_log=False,  # the edge writes one structured line per request
        log_level=settings.log_level.lower(),
        log_config=None,  # keep keel.core.logging's JSON handler for uvicorn's own lines
    )


@main.group(invoke_without_command=True, help="Database migrations (default: upgrade to head, then seed).")
@click.option("--no-seed", is_flag=True, help="Do not load seed data after upgrading.")
@click.pass_context
def migrate(ctx: click.Context, no_seed: bool) -> None:
    if ctx.invoked_subcommand is None:
        ctx.invoke(upgrade, revision="head", no_seed=no_seed)


@migrate.command(help="Upgrade to REVISION (default head) and load seed data idempotently.")
@click.argument("revision", default="head")
@click.option("--no-seed", is_flag=True, help="Do not load seed data.")
def upgrade(revision: str, no_seed: bool) -> None:
    from keel.core import migrate as m

    settings = _settings()
    apps = _enabled_apps(settings)  # a typo in KEEL_APPS stops here, before the database changes
    m.upgrade(settings, revision)
    if not no_seed and revision == "head":
        from keel.app import app_seeders
        from keel.core.seed import run_seeders

        asyncio.run(run_seeders(settings, app_seeders(apps)))
    click.echo(f"database at {revision}")


@migrate.command(help="Downgrade to REVISION (default: one step back; 'base' removes every table).")
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    from keel.core import migrate as m

    m.downgrade(_settings(), revision)
    click.echo(f"database at {revision}")


@migrate.command(help="Create a new revision, autogenerated from the models by default.")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--empty", is_flag=True, help="An empty revision instead of autogenerate.")
def revision(message: str, empty: bool) -> None:
    from keel.core import migrate as m

    m.revision(_settings(), message, autogenerate=not empty)


@migrate.command(help="Show the current revision.")
def current() -> None:
    from keel.core import migrate as m

    m.current(_settings())


@main.command(help="Load seed data (idempotent): roles, the gym library and predefined plans, ...")
def seed() -> None:
    from keel.app import app_seeders
    from keel.core.seed import run_seeders

    settings = _settings()
    asyncio.run(run_seeders(settings, app_seeders(_enabled_apps(settings))))
    click.echo("seed data loaded")


@main.command(help="Run a background job worker (procrastinate on PostgreSQL; in-process queue otherwise).")
@click.option("--concurrency", type=int, default=None, help="Jobs run at once (default JOBS_CONCURRENCY).")
def worker(concurrency: int | None) -> None:
    from keel.core.jobs import run_worker

    settings = _settings()
    if not settings.is_postgres:
        raise click.ClickException(
            "`keel worker` needs PostgreSQL: set DATABASE_URL=postgresql+asyncpg://user:pass@host/db "
            "(with SQLite the server runs jobs in its own process, no worker needed)"
        )
    asyncio.run(run_worker(settings, _enabled_apps(settings), concurrency=concurrency))


@main.command(help="Create (or promote) an administrator account.")
@click.option("--email", prompt=True, help="The admin's email.")
@click.option("--name", default="Administrator", help="Display name.")
@click.password_option(help="Password (prompted twice when omitted).")
def createadmin(email: str, name: str, password: str) -> None:
    from keel.identity.services import create_admin

    try:
        asyncio.run(create_admin(_settings(), email=email, name=name, password=password))
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc)
        details = getattr(exc, "details", None)
        raise click.ClickException(f"{message} {json.dumps(details) if details else ''}".strip()) from exc
    click.echo(f"admin {email} ready")


@main.command(help="Write the OpenAPI schema (JSON, or YAML for a .yaml/.yml path) to a file.")
@click.argument("output", type=click.Path(dir_okay=False), default="openapi.json")
def openapi(output: str) -> None:
    from keel.app import create_app

    app = create_app(_settings())
    import msgspec

    # examples in the schema are msgspec structs: msgspec turns them into plain data first
    schema = msgspec.to_builtins(app.openapi_schema.to_schema())
    if output.endswith((".yaml", ".yml")):
        import yaml

        Path(output).write_text(yaml.safe_dump(schema, sort_keys=False))
    else:
        Path(output).write_text(json.dumps(schema, indent=2))
    click.echo(f"wrote {output} ({len(schema.get('paths', {}))} paths)")


@main.group(help="Scaffold code.")
def new() -> None:
    pass


@new.command(
    "resource", help="Scaffold a CRUD resource NAME in APP: model, schemas, routes, migration and tests."
)
@click.argument("name")
@click.option("--app", "app_name", required=True, help="The app package under keel/apps.")
@click.option("--no-migration", is_flag=True, help="Skip generating the Alembic revision.")
def new_resource(name: str, app_name: str, no_migration: bool) -> None:
    from keel.app import APPS_PACKAGE, KNOWN_APPS
    from keel.core.scaffold import scaffold_resource

    written = scaffold_resource(
        name,
        app_name,
        settings=None if no_migration else _settings(),
        apps_package=APPS_PACKAGE,
        known_apps=KNOWN_APPS,
    )
    for path in written:
        click.echo(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
