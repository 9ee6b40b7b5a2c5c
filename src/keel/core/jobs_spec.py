"""Task blueprints an app declares without importing procrastinate (issue 12: a serving process that
only defers jobs loads procrastinate and psycopg with the first job it defers, not at start-up).

    tasks = TaskBlueprint()                              # AppSpec.tasks
    RETRY = RetrySpec(max_attempts=4, exponential_wait=2)

    @tasks.periodic(cron="*/2 * * * *", periodic_id="sweep")
    @tasks.task(name="publish", queue="segmint", retry=RETRY, pass_context=True)
    async def publish(context, schedule_id: str) -> str: ...

`task` and `periodic` take procrastinate's own keyword arguments and return the function unchanged;
`build()` (called by `keel.core.jobs` when it binds the app's tasks to the queue) makes the real
`procrastinate.Blueprint` once. Defer by name: `(await open_queue()).configure_task("app:name", ...)`
(`keel.core.jobs_server.open_queue`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RetrySpec:
    """procrastinate's `RetryStrategy` arguments, made into one when the tasks are bound."""

    max_attempts: int | None = None
    wait: int = 0
    linear_wait: int = 0
    exponential_wait: int = 0
    retry_exceptions: frozenset[type[Exception]] | set[type[Exception]] | None = None

    def build(self) -> Any:
        from procrastinate import RetryStrategy

        return RetryStrategy(
            max_attempts=self.max_attempts,
            wait=self.wait,
            linear_wait=self.linear_wait,
            exponential_wait=self.exponential_wait,
            retry_exceptions=set(self.retry_exceptions) if self.retry_exceptions else None,
        )


@dataclass
class TaskBlueprint:
    """Records `@task` / `@periodic` declarations; `build()` replays them on a procrastinate Blueprint."""

    _steps: list[tuple[str, dict[str, Any], Callable[..., Any]]] = field(default_factory=list)
    _built: Any = None

    def task(self, **options: Any) -> Callable[[F], F]:
        def declare(func: F) -> F:
            self._steps.append(("task", options, func))
            return func

        return declare

    def periodic(self, **options: Any) -> Callable[[F], F]:
        """Below it, the `@task` it schedules (procrastinate's order)."""

        def declare(func: F) -> F:
            self._steps.append(("periodic", options, func))
            return func

        return declare

    def build(self) -> Any:
        """The procrastinate Blueprint with every declared task (made once, then the same object)."""
        if self._built is None:
            from procrastinate import Blueprint

            blueprint = Blueprint()
            made: dict[int, Any] = {}
            for kind, options, func in self._steps:
                if kind == "task":
                    retry = options.get("retry")
                    if isinstance(retry, RetrySpec):
                        options = {**options, "retry": retry.build()}
                    made[id(func)] = blueprint.task(**options)(func)
                else:
                    blueprint.periodic(**options)(made[id(func)])
            self._built = blueprint
        return self._built


def procrastinate_blueprint(tasks: Any) -> Any:
    """A procrastinate Blueprint from an `AppSpec.tasks` (a TaskBlueprint, or a Blueprint already)."""
    return tasks.build() if isinstance(tasks, TaskBlueprint) else tasks


__all__ = ["RetrySpec", "TaskBlueprint", "procrastinate_blueprint"]
