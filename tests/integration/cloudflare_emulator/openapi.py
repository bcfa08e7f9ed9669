"""Validation of requests and responses against the Cloudflare OpenAPI subset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

HERE = Path(__file__).resolve().parent
SPEC_FILE = HERE / "cloudflare-openapi-subset.json"
BATCH_SCHEMA_FILE = HERE / "batch-schema.json"
BATCH_TEMPLATE = "/zones/{zone_id}/dns_records/batch"

# OpenAPI 3.0 keywords that are not JSON Schema validation keywords.
_OPENAPI_ONLY = (
    "nullable",
    "example",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
    "x-auditable",
    "x-stainless-terraform-configurability",
)


class ValidationFailure(Exception):
    """A request or response does not match the description."""


def _resolve(node, schemas, stack=()):
    """Inline every local $ref (the subset has no recursive schemas)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in stack:
                raise ValueError(f"recursive schema {name}")
            target = _resolve(schemas[name], schemas, (*stack, name))
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if not rest:
                return target
            return {"allOf": [target, _resolve(rest, schemas, stack)]}
        out = {k: _resolve(v, schemas, stack) for k, v in node.items() if k not in _OPENAPI_ONLY}
        if node.get("nullable") is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_resolve(v, schemas, stack) for v in node]
    return node


def known_properties(schema) -> set[str] | None:
    """Property names a schema declares anywhere in its combinators; None = open object."""
    names: set[str] = set()
    found = False
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if "properties" in node:
            found = True
            names.update(node["properties"])
        for key in ("allOf", "oneOf", "anyOf"):
            stack.extend(node.get(key, []))
    return names if found else None


def _validator(schema):
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def _first_error(validator, instance) -> str | None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message[:300]}"


class Operation:
    def __init__(self, template: str, method: str, op: dict, schemas: dict):
        self.template = template
        self.method = method
        self.op_id = op.get("operationId", f"{method} {template}")
        params = _resolve(op.get("parameters", []), schemas)
        self.path_params = {p["name"]: p["schema"] for p in params if p["in"] == "path"}
        self.query_params = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
        body = op.get("requestBody")
        self.body_required = bool(body and body.get("required"))
        self.body_schema = None
        if body:
            media = body.get("content", {}).get("application/json", {})
            if "schema" in media:
                self.body_schema = _resolve(media["schema"], schemas)
        self.has_body = body is not None
        self.responses = {}
        self.failure_schema = None
        for status, response in op.get("responses", {}).items():
            media = response.get("content", {}).get("application/json", {})
            if "schema" in media:
                self.responses[status] = _resolve(media["schema"], schemas)
            if status == "4XX":
                self.failure_schema = _failure_schema(media.get("schema", {}), schemas)
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self.regex = re.compile("^" + regex + "$")
        self._validators = {}

    def validator(self, key, schema):
        if key not in self._validators:
            self._validators[key] = _validator(schema)
        return self._validators[key]


def _failure_schema(schema, schemas):
    """The '*-api-response-common-failure' part of a 4XX response schema."""
    refs = [schema, *list(schema.get("allOf", []))]
    for part in refs:
        ref = part.get("$ref", "")
        if ref.endswith("api-response-common-failure"):
            return _resolve(part, schemas)
    return _resolve(schema, schemas)


def _coerce(value: str, schema: dict):
    kind = schema.get("type")
    if kind in ("number", "integer"):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


class Spec:
    def __init__(self, spec_file: Path = SPEC_FILE, batch_file: Path = BATCH_SCHEMA_FILE):
        raw = json.loads(spec_file.read_text())
        self.schemas = raw["components"]["schemas"]
        self.operations: list[Operation] = []
        for template, methods in raw["paths"].items():
            for method, op in methods.items():
                self.operations.append(Operation(template, method.upper(), op, self.schemas))
        batch = json.loads(batch_file.read_text())
        self.operations.append(Operation(BATCH_TEMPLATE, "POST", batch, self.schemas))
        self.record_request = _resolve(
            {"$ref": "#/components/schemas/dns-records_dns-record-request"}, self.schemas
        )
        self._record_validator = _validator(self.record_request)

    def match(self, method: str, path: str):
        """Return (operation, path params) or (None, reason)."""
        path_matched = False
        for op in self.operations:
            found = op.regex.match(path)
            if found:
                path_matched = True
                if op.method == method:
                    return op, found.groupdict()
        return None, ("method not allowed" if path_matched else "no route for the URI")

    def validate_request(self, op: Operation, path_params: dict, query: dict, body) -> None:
        for name, value in path_params.items():
            error = _first_error(op.validator(("path", name), op.path_params[name]), value)
            if error:
                raise ValidationFailure(f"path parameter {name} {error}")
        for name, values in query.items():
            if name not in op.query_params:
                raise ValidationFailure(f"query parameter {name!r} is not defined for {op.op_id}")
            if len(values) != 1:
                raise ValidationFailure(f"query parameter {name!r} given {len(values)} times")
            schema = op.query_params[name]
            error = _first_error(op.validator(("query", name), schema), _coerce(values[0], schema))
            if error:
                raise ValidationFailure(f"query parameter {name} {error}")
        if body is None:
            if op.body_required:
                raise ValidationFailure(f"{op.op_id} requires a JSON body")
            return
        if not op.has_body:
            raise ValidationFailure(f"{op.op_id} takes no request body")
        if op.body_schema is None:
            return
        error = _first_error(op.validator("body", op.body_schema), body)
        if error:
            raise ValidationFailure(f"request body {error}")
        self._check_unknown_keys(op.body_schema, body, "request body")

    def _check_unknown_keys(self, schema, body, where):
        if not isinstance(body, dict):
            return
        known = known_properties(schema)
        if known is None:
            return
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValidationFailure(f"{where} has undeclared properties {unknown}")

    def validate_record_body(self, body: dict, where: str, partial: bool = False) -> None:
        """A DNS record inside a batch request (puts/posts full, patches partial)."""
        candidate = {k: v for k, v in body.items() if k != "id"}
        if partial:
            known = known_properties(self.record_request) or set()
            unknown = sorted(set(candidate) - known)
            if unknown:
                raise ValidationFailure(f"{where} has undeclared properties {unknown}")
            return
        error = _first_error(self._record_validator, candidate)
        if error:
            raise ValidationFailure(f"{where} {error}")
        self._check_unknown_keys(self.record_request, candidate, where)

    def validate_response(self, op: Operation, status: int, payload) -> None:
        if status >= 400:
            schema = op.failure_schema
            key = "failure"
        else:
            schema = op.responses.get(str(status)) or op.responses.get("2XX")
            key = str(status)
        if schema is None:
            raise ValidationFailure(f"{op.op_id} has no response {status} in the description")
        error = _first_error(op.validator(("response", key), schema), payload)
        if error:
            raise ValidationFailure(f"response {status} of {op.op_id} {error}")
