"""The API's plumbing: one decorator declares an operation (its path, parameters, body and
responses as Pydantic models), registers the Flask view, validates what comes in with those
models, checks that what goes out is the declared model, and records the operation for the
OpenAPI description (tracker/api/openapi.py). Documentation and behaviour share one source.

Authentication: `Authorization: Bearer apt_…` on every operation but the description itself;
the session cookie is never read under /api/ (tracker/api/__init__.py), CSRF does not apply.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable, Optional

from flask import Blueprint, current_app, g, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Response

from tracker.api.schemas import Error, FieldError
from tracker.storage import StorageError

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_ID = 2**31 - 1  # larger ids exist nowhere (and would overflow PostgreSQL's integer)


class ApiError(Exception):
    """An answer other than success: its status, a machine-readable code and a message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: Optional[list[FieldError]] = None,
        body: Optional[BaseModel] = None,
        headers: Optional[dict] = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, str(message)
        self.errors = errors or []
        self.body = body
        self.headers = headers or {}

    def response(self):
        body = self.body or Error(error=self.code, message=self.message, errors=self.errors)
        response = json_response(body.model_dump(mode="json"), self.status)
        response.headers.update(self.headers)
        return response


def not_found(message: str = "Not found, or not visible to this token.") -> ApiError:
    return ApiError(404, "not_found", message)


def forbidden(message: str = "This token's user may not do this.") -> ApiError:
    return ApiError(403, "forbidden", message)


def json_response(data: Any, status: int = 200):
    response = current_app.response_class(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")), status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


class FileAnswer:
    """In `responses`, a status whose answer is a file's bytes in one of `media_types` (the view
    returns the Response, passed through unchanged)."""

    def __init__(self, media_types):
        self.media_types = tuple(media_types)


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    description: str = ""
    query: Optional[type[BaseModel]] = None
    body: Optional[type[BaseModel]] = None
    multipart: Optional[type[BaseModel]] = None
    responses: dict[int, tuple[Optional[type[BaseModel]], str]] = field(default_factory=dict)
    public: bool = False

    @property
    def path_params(self) -> list[tuple[str, str]]:
        """(name, converter) of the rule's variables, in order."""
        return [(name, conv or "string") for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", self.rule)]

    @property
    def openapi_path(self) -> str:
        return bp.url_prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)


OPERATIONS: list[Operation] = []
BY_ENDPOINT: dict[str, Operation] = {}


def field_errors(exc: ValidationError, where: str) -> list[FieldError]:
    return [FieldError(field=".".join([where, *[str(p) for p in e["loc"]]]), message=e["msg"]) for e in exc.errors()]


def _parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(422, "invalid", "Some query parameters are invalid.", field_errors(exc, "query")) from None


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.mimetype or request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    data = request.get_data(cache=False)
    if request.max_content_length and len(data) > request.max_content_length:
        raise RequestEntityTooLarge()
    try:
        parsed = model.model_validate_json(data or b"null", strict=True)
    except ValidationError as exc:
        raise ApiError(422, "invalid", "The request body is invalid.", field_errors(exc, "body")) from None
    nul = _nul_at(parsed.model_dump(), "body")
    if nul:  # never belongs in text (PostgreSQL refuses it), as on the pages (tracker/security.py)
        raise ApiError(
            422, "invalid", "NUL character in the request.", [FieldError(field=nul, message="NUL character")]
        )
    return parsed


def _nul_at(value: Any, where: str) -> Optional[str]:
    """The place of the first string (or key) with a NUL character in it, if any."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_at(key, f"{where}.{key}") or _nul_at(item, f"{where}.{key}")
            if found:
                return found
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{where}.{index}")
            if found:
                return found
    return None


def _parse_multipart(model: type[BaseModel]) -> BaseModel:
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "Send the body as multipart/form-data.")
    values: dict[str, Any] = {k: v for k, v in request.form.items()}
    values.update({k: v for k, v in request.files.items()})
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ApiError(422, "invalid", "The form is invalid.", field_errors(exc, "body")) from None


def _check_path(op: Operation, values: dict) -> None:
    for name, converter in op.path_params:
        if converter == "int" and not 1 <= values[name] <= MAX_ID:
            raise not_found()


def operation(
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    tag: str,
    responses: dict,
    query: Optional[type[BaseModel]] = None,
    body: Optional[type[BaseModel]] = None,
    multipart: Optional[type[BaseModel]] = None,
    description: str = "",
    public: bool = False,
):
    """Declare and register an API operation.

    `responses` maps a status to a model (or (model, description)); the view returns a model
    instance (200), or (instance, status). Errors are raised as ApiError.
    """

    def decorator(view: Callable):
        declared = {status: (spec if isinstance(spec, tuple) else (spec, "")) for status, spec in responses.items()}
        op = Operation(
            rule=rule,
            method=method,
            endpoint=f"api.{view.__name__}",
            summary=summary,
            tag=tag,
            description=description or (view.__doc__ or "").strip(),
            query=query,
            body=body,
            multipart=multipart,
            responses=declared,
            public=public,
        )

        @wraps(view)
        def handler(**values):
            _check_path(op, values)
            if query is not None:
                values["query"] = _parse_query(query)
            if body is not None:
                values["body"] = _parse_body(body)
            if multipart is not None:
                values["form"] = _parse_multipart(multipart)
            result = view(**values)
            status = 200
            if isinstance(result, tuple):
                result, status = result
            model = op.responses.get(status, (None, ""))[0]
            if isinstance(model, FileAnswer) and isinstance(result, Response):
                return result
            if model is None or not isinstance(result, model):
                # the description would lie: a bug, caught by the test suite
                raise TypeError(f"{op.endpoint} answered {status} with {type(result).__name__}, declared {model}")
            return json_response(result.model_dump(mode="json"), status)

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=handler, methods=[method])
        OPERATIONS.append(op)
        BY_ENDPOINT[op.endpoint] = op
        return handler

    return decorator


# -- errors ---------------------------------------------------------------------------------------

MESSAGES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "A valid API token is required (Authorization: Bearer apt_…)."),
    403: ("forbidden", "This token's user may not do this."),
    404: ("not_found", "Not found, or not visible to this token."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("too_large", "The request is too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    429: ("rate_limited", "Too many requests."),
}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return exc.response()


def _http_error(exc: HTTPException):
    code, message = MESSAGES.get(exc.code or 500, ("error", exc.name))
    response = json_response(Error(error=code, message=message).model_dump(mode="json"), exc.code or 500)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _server_error(exc: Exception):
    log.exception("API error")
    return json_response(
        Error(error="server_error", message="An unexpected error; it has been logged.").model_dump(mode="json"), 500
    )


# The app's HTML handlers are registered by status code, which Flask prefers to a blueprint's
# handler by class: so the blueprint registers each code it may answer.
for _code in (400, 401, 403, 404, 405, 413, 415, 429):
    bp.register_error_handler(_code, _http_error)
bp.register_error_handler(HTTPException, _http_error)
bp.register_error_handler(500, _server_error)


def _store_unavailable(exc: Exception):
    log.warning("API 503: file store unreachable: %s", exc)
    response = json_response(
        Error(error="unavailable", message="The file store cannot be reached at the moment; try again.").model_dump(
            mode="json"
        ),
        503,
    )
    response.headers["Retry-After"] = "30"
    return response


bp.register_error_handler(StorageError, _store_unavailable)


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str):
    """Any other path under /api/v1/: 404, or 405 when the path exists with another method; JSON."""
    from werkzeug.routing import Map, Rule

    routes = current_app.extensions.get("api_routes")
    if routes is None:
        routes = current_app.extensions["api_routes"] = Map(
            [
                Rule(r.rule, endpoint=r.endpoint, methods=r.methods)
                for r in current_app.url_map.iter_rules()
                if r.endpoint.startswith("api.") and r.endpoint != "api.unknown"
            ],
            converters=current_app.url_map.converters,
        )
    try:
        routes.bind("api").match(request.path, method=request.method)
    except MethodNotAllowed as exc:
        raise MethodNotAllowed(valid_methods=sorted(exc.valid_methods or [])) from None
    except HTTPException:
        pass
    raise NotFound()


def api_token_id() -> Optional[int]:
    """The id of the token of the current API request, if any."""
    return g.get("api_token_id")
