"""gym services, one module per concept (this package re-exports them).

Everything here runs inside the request's transaction (flush, never commit) and scopes every query to the
caller. Records and the PR flags of a logged set come from the SQL engine in :mod:`keel.apps.gym.records.sql`;
progress and muscle statistics load the needed columns in one query and hand them to the reference engine
in :mod:`keel.apps.gym.records.rules`.
"""

from keel.apps.gym.services.common import (
    LIBRARY_NS,
    MANAGE_LIBRARY,
    MANAGE_PLANS,
    PLANS_NS,
    REPS_MEASUREMENTS,
    ZERO,
    record_read,
)
from keel.apps.gym.services.library import (
    catalogue,
    custom_exercises,
    exercise_read,
    list_exercises,
    name_lookup,
    visible_exercise,
)
from keel.apps.gym.services.plan_list import list_plans
from keel.apps.gym.services.plans import (
    PLAN_LOAD,
    copy_plan,
    create_plan,
    delete_plan,
    get_plan,
    load_plan,
    plan_read,
    predefined_plans,
    replace_plan,
)
from keel.apps.gym.services.progress import (
    exercise_history,
    exercise_progress,
    exercise_records,
    muscle_stats,
)
from keel.apps.gym.services.sessions import (
    SET_READ_COLUMNS,
    delete_session,
    exercise_names,
    finish_session,
    list_sessions,
    own_session,
    session_detail,
    session_read,
    set_read,
    start_session,
)
from keel.apps.gym.services.sets import check_editable, delete_set, log_set, update_set, validate_set
from keel.apps.gym.services.transfer import export_csv, export_json, import_csv, time_zone

__all__ = [
    "LIBRARY_NS",
    "MANAGE_LIBRARY",
    "MANAGE_PLANS",
    "PLANS_NS",
    "PLAN_LOAD",
    "REPS_MEASUREMENTS",
    "SET_READ_COLUMNS",
    "ZERO",
    "catalogue",
    "check_editable",
    "copy_plan",
    "create_plan",
    "custom_exercises",
    "delete_plan",
    "delete_session",
    "delete_set",
    "exercise_history",
    "exercise_names",
    "exercise_progress",
    "exercise_read",
    "exercise_records",
    "export_csv",
    "export_json",
    "finish_session",
    "get_plan",
    "import_csv",
    "list_exercises",
    "list_plans",
    "list_sessions",
    "load_plan",
    "log_set",
    "muscle_stats",
    "name_lookup",
    "own_session",
    "plan_read",
    "predefined_plans",
    "record_read",
    "replace_plan",
    "session_detail",
    "session_read",
    "set_read",
    "start_session",
    "time_zone",
    "update_set",
    "validate_set",
    "visible_exercise",
]
