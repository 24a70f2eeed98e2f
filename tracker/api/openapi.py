"""The OpenAPI 3.1 description, built from the operations and their Pydantic models (the same
ones that validate the requests), and a readable page of it rendered here (no CDN, no script)."""

from __future__ import annotations

import json
from functools import lru_cache

from flask import current_app, render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tracker.api.core import MAX_ID, OPERATIONS, FileAnswer, Operation, bp
from tracker.api.schemas import Error

API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

STANDARD = {
    400: "The request could not be understood (e.g. a NUL character in a value).",
    401: "No valid token: missing, unknown, revoked or expired.",
    403: "Seen, but the token's user may not do this.",
    409: "Conflict with the current state.",
    404: "Not found, or outside the token user's scope.",
    413: "The request body is too large.",
    415: "The body is not of the declared media type.",
    422: "Invalid parameters or body: `errors` names every field.",
    429: "Too many requests for this token: wait `Retry-After` seconds.",
}


def _models() -> list[tuple[type[BaseModel], str]]:
    pairs: list[tuple[type[BaseModel], str]] = [(Error, "serialization")]
    for op in OPERATIONS:
        for model, _ in op.responses.values():
            if model is not None and not isinstance(model, FileAnswer):
                pairs.append((model, "serialization"))
        if op.body is not None:
            pairs.append((op.body, "validation"))
        if op.multipart is not None:
            pairs.append((op.multipart, "validation"))
    unique, seen = [], set()
    for pair in pairs:
        if pair not in seen:
            seen.add(pair)
            unique.append(pair)
    return unique


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        if prop.get("default", 0) is None:
            prop.pop("default")  # an absent parameter, not a null one
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _path_parameters(op: Operation) -> list[dict]:
    parameters = []
    for name, converter in op.path_params:
        if converter == "int":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        else:
            schema = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^/]+$"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _response(description: str, ref: str | None, headers: dict | None = None) -> dict:
    response: dict = {"description": description or "OK"}
    if ref:
        response["content"] = {"application/json": {"schema": {"$ref": ref}}}
    if headers:
        response["headers"] = headers
    return response


def _operation(op: Operation, refs: dict) -> dict:
    error_ref = refs[(Error, "serialization")]["$ref"]
    parameters = _path_parameters(op) + (_query_parameters(op.query) if op.query else [])
    responses: dict[str, dict] = {}
    for status, (model, description) in sorted(op.responses.items()):
        if isinstance(model, FileAnswer):
            binary = {"schema": {"type": "string", "format": "binary"}}
            responses[str(status)] = {
                "description": description or "The file.",
                "content": {media: binary for media in model.media_types},
                "headers": {
                    "Content-Disposition": {
                        "schema": {"type": "string"},
                        "description": "attachment, with the file's original name.",
                    }
                },
            }
            continue
        model = model or Error  # None: an error answer of the usual shape
        responses[str(status)] = _response(
            description or STANDARD.get(status, ""), refs[(model, "serialization")]["$ref"]
        )
    standard = {400}
    if not op.public:
        standard |= {401, 429}
    if op.path_params:
        standard.add(404)
    if op.query or op.body or op.multipart or op.path_params:
        standard.add(422)
    if op.body or op.multipart:
        standard |= {413, 415}
    for status in sorted(standard):
        if str(status) not in responses:
            headers = (
                {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
                if status == 429
                else None
            )
            responses[str(status)] = _response(STANDARD[status], error_ref, headers)
    result: dict = {
        "operationId": op.endpoint.split(".", 1)[1],
        "summary": op.summary,
        "tags": [op.tag],
        "responses": responses,
    }
    if op.description:
        result["description"] = op.description
    if parameters:
        result["parameters"] = parameters
    if op.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": refs[(op.body, "validation")]["$ref"]}}},
        }
    if op.multipart is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"$ref": refs[(op.multipart, "validation")]["$ref"]}}},
        }
    result["security"] = [] if op.public else [{"bearerAuth": []}]
    return result


def _drop_titles(schema):
    """Pydantic's generated `title`s repeat the property names: left out for a shorter description."""
    if isinstance(schema, dict):
        return {k: _drop_titles(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_drop_titles(v) for v in schema]
    return schema


@lru_cache(maxsize=4)
def _build() -> str:
    refs, definitions = models_json_schema(_models(), ref_template=REF)
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.openapi_path, {})[op.method.lower()] = _operation(op, refs)
    spec = {
        "openapi": "3.1.0",
        "info": {
            "title": "Action-Plan Tracker API",
            "version": API_VERSION,
            "description": (
                "JSON API of the Action-Plan Tracker (行动计划督办平台). Authenticate with a token "
                "(`Authorization: Bearer apt_…`) made on the page /account/tokens, or a service token an admin "
                "made. A token acts exactly as its user: the same scope (own unit's subtree; leaders and admins "
                "see all), the same status state machine, and every change is journaled with the token's id. "
                "Out of scope: 404; seen but not allowed: 403. Field names are those of the plan export "
                "(`export_version`). Lists are bounded and paged with a `next` cursor."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": _drop_titles(definitions.get("$defs", {})),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "apt_ token"}},
        },
    }
    return json.dumps(spec, ensure_ascii=False, indent=1)


def description() -> dict:
    return json.loads(_build())


@bp.route("/openapi.json")
def openapi_json():
    """The description itself: public (it holds no data), like this API's documentation page."""
    response = current_app.response_class(_build(), 200, mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/docs")
def docs():
    """The description as a page: every operation, its parameters, body and answers."""
    spec = description()
    schemas = spec["components"]["schemas"]
    groups: dict[str, list] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            groups.setdefault(op["tags"][0], []).append((method.upper(), path, op))
    return render_template(
        "api/docs.html",
        spec=spec,
        groups=groups,
        schemas=schemas,
        pretty=lambda value: json.dumps(value, ensure_ascii=False, indent=2),
    )
