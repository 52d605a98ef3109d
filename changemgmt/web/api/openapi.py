"""Request bodies in /openapi.json: the endpoints read their bodies themselves (as the CLI
reads a file), so FastAPI does not see the models; each route names its model with
`body(Model)`, and `add_models` puts the models in the schema's components."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_REF = "#/components/schemas/{model}"
REQUEST_MODELS: list[type[BaseModel]] = []


def body(model: type[BaseModel], *, required: bool = True, role: str) -> dict[str, Any]:
    """A route's `openapi_extra`: its JSON body, of `model`, and the role it needs."""
    if model not in REQUEST_MODELS:
        REQUEST_MODELS.append(model)
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
        },
        "x-role": role,
    }


def role(name: str) -> dict[str, Any]:
    """A route's `openapi_extra` when it has no body: the role it needs."""
    return {"x-role": name}


def add_models(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in REQUEST_MODELS:
        found = model.model_json_schema(ref_template=_REF)
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
    return schema
