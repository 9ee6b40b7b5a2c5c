"""The OpenAPI document as generated clients and offline readers need it.

- Operation ids `<area>_<handler>` (`auth_login`, `gym_list_sessions`): the area is the first path
  segment under the API prefix (the app or router), the handler is the function's name.
- Component names without module paths (`ExerciseRead`, `EnvelopeExerciseRead`); two classes of one
  name in different packages get their package in front (`GymSessionRead`).
- Interactive docs (Swagger UI at `/schema` and `/schema/swagger`) served from the assets the
  `swagger-ui-py` package ships: no CDN, so they work offline under a CSP that allows only self.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import Router
from litestar._openapi.datastructures import OpenAPIContext, SchemaRegistry
from litestar._openapi.path_item import create_path_item_for_route, merge_path_item_operations
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)
from litestar.static_files import create_static_files_router
from litestar.types.internal_types import PathParameterDefinition

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.handlers import HTTPRouteHandler
    from litestar.openapi.spec import OpenAPI
    from litestar.types import Method

ASSETS_PATH = "/assets"  # under the schema path: /schema/assets/swagger-ui-bundle.js
_ASSET_FILES = (
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-ui.css",
    "favicon-32x32.png",
)
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# a module path inside a generic's name (`Envelope_pkg.app.schemas.ExerciseRead_`): lower-case
# segments each followed by a dot, starting at a word boundary
_DOTTED = re.compile(r"(?<![A-Za-z0-9])(?:[a-z][a-z0-9]*\.)+([A-Za-z_][A-Za-z0-9]*)")


def make_operation_id_creator(api_prefix: str) -> Any:
    prefix = [p for p in api_prefix.split("/") if p]

    def operation_id(
        route_handler: HTTPRouteHandler,
        http_method: Method,
        path_components: list[str | PathParameterDefinition],
    ) -> str:
        literal = [c for c in path_components if isinstance(c, str) and c]
        if literal[: len(prefix)] == prefix:
            literal = literal[len(prefix) :]
        area = re.sub(r"\W+", "_", literal[0]).strip("_").lower() if literal else "root"
        name = _SNAKE.sub("_", route_handler.handler_name).lower().strip("_")
        if len(route_handler.http_methods) > 1:
            name = f"{http_method.lower()}_{name}"
        if name == area or name.startswith(f"{area}_"):
            return name
        return f"{area}_{name}"

    return operation_id


def _short_name(key: tuple[str, ...]) -> str:
    """`(..., "Envelope_pkg.app.schemas.ExerciseRead_")` → `EnvelopeExerciseRead`."""
    name = _DOTTED.sub(r"\1", key[-1])
    parts = [p for p in name.split("_") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Schema"


_MODULE_PATH = re.compile(r"(?<![A-Za-z0-9])((?:[a-z][a-z0-9]*\.)+)[A-Za-z_][A-Za-z0-9]*")


def _package_label(key: tuple[str, ...]) -> str:
    """The package a component belongs to: the app (`<root>.apps.<app>`) or the top package under keel
    (`identity`, `core`). A generic (`Page[X]`) belongs to its innermost argument's package: a page of
    identity's sessions is identity's, wherever `Page` is defined."""
    arguments = _MODULE_PATH.findall(key[-1])
    segments = arguments[-1].rstrip(".").split(".") if arguments else ".".join(key).split(".")
    if "apps" in segments[:-1]:
        return segments[segments.index("apps") + 1].capitalize()
    return (segments[1] if len(segments) > 1 and segments[0] == "keel" else segments[0]).capitalize()


class KeelSchemaRegistry(SchemaRegistry):
    def generate_components_schemas(self) -> dict[str, Schema]:
        groups: dict[str, list[Any]] = defaultdict(list)
        for registered in self._schema_key_map.values():
            groups[_short_name(registered.key)].append(registered)
        schemas: dict[str, Schema] = {}
        for short, group in groups.items():
            for registered in group:
                name = short if len(group) == 1 else f"{_package_label(registered.key)}{short}"
                if name in schemas:  # still ambiguous: the full key, as Litestar would
                    name = "_".join(registered.key)
                self.set_reference_paths(name, registered)
                schemas[name] = registered.schema
        return dict(sorted(schemas.items()))


class KeelOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's plugin with Keel's component names (the build step is Litestar 2's, with our registry)."""

    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        openapi_config = self.openapi_config
        openapi = openapi_config.to_openapi_schema()
        context = OpenAPIContext(openapi_config=openapi_config, plugins=self.app.plugins.openapi)
        context.schema_registry = KeelSchemaRegistry()
        path_items: dict[str, Any] = {}
        for route in self.included_routes.values():
            path = route.path_format or "/"
            path_item = create_path_item_for_route(context, route)
            _document_streamed_bodies(route, path_item)
            if existing := path_items.get(path):
                path_item = merge_path_item_operations(existing, path_item, for_path=path)
            path_items[path] = path_item
        openapi.paths = path_items
        openapi.components.schemas = context.schema_registry.generate_components_schemas()
        return openapi


def raw_body(*media_types: str, description: str) -> RequestBody:
    """`opt={"request_body": raw_body(...)}` documents a body a handler streams itself (no `data`)."""
    binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    content = {media_type: OpenAPIMediaType(schema=binary) for media_type in media_types}
    return RequestBody(content=content, description=description, required=True)


def multipart_body(
    *,
    fields: dict[str, str],
    files: tuple[str, ...] = ("file",),
    repeated: bool = False,
    required: tuple[str, ...] = (),
    description: str,
) -> RequestBody:
    """A `multipart/form-data` body read by the handler: text `fields` (name -> description; `required`
    ones named) first, then the file parts `files` (an array when `repeated`)."""
    binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    file_schema = Schema(type=OpenAPIType.ARRAY, items=binary, min_items=1) if repeated else binary
    properties: dict[str, Schema | Reference] = {
        name: Schema(type=OpenAPIType.STRING, description=text) for name, text in fields.items()
    }
    properties |= dict.fromkeys(files, file_schema)
    form = Schema(type=OpenAPIType.OBJECT, properties=properties, required=[*required, *files])
    return RequestBody(
        content={"multipart/form-data": OpenAPIMediaType(schema=form)}, description=description, required=True
    )


def _document_streamed_bodies(route: Any, path_item: PathItem) -> None:
    for handler in getattr(route, "route_handlers", ()):
        body = handler.opt.get("request_body")
        if body is None:
            continue
        for method in handler.http_methods:
            operation = getattr(path_item, method.lower(), None)
            if operation is not None and operation.request_body is None:
                operation.request_body = body


def use_keel_openapi(app: Litestar) -> None:
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = KeelOpenAPIPlugin  # same slots; only the build step differs


def _assets_dir() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).resolve().parent / "static"


_INIT_JS = b"""window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-schema-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
});
"""


class OfflineSwaggerRenderPlugin(OpenAPIRenderPlugin):
    """Swagger UI from the packaged assets; no inline script, so `script-src 'self'` is enough."""

    def __init__(self, *, path: str | list[str]) -> None:
        super().__init__(path=path)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        base = request.app.route_reverse("keel_docs_assets", file_path="/").rstrip("/")
        title = str(openapi_schema.get("info", {}).get("title", "API"))
        schema_url = self.get_openapi_json_route(request)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
<link rel="stylesheet" href="{base}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-schema-url="{schema_url}"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script src="{base}/swagger-ui-standalone-preset.js"></script>
<script src="{base}/keel-init.js"></script>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        from litestar import get

        @get(f"{ASSETS_PATH}/keel-init.js", media_type="text/javascript", sync_to_thread=False)
        def init_js() -> bytes:
            return _INIT_JS

        router.register(init_js)
        router.register(
            create_static_files_router(
                path=ASSETS_PATH,
                directories=[_assets_dir()],
                name="keel_docs_assets",
                include_in_schema=False,
                cache_control=None,
            )
        )
