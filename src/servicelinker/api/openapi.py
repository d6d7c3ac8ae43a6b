"""The OpenAPI document the server serves at `/openapi.json`, checked in as `openapi/servicelinker.json`.

It is generated from the routes and the engine's pydantic models (request bodies and response schemas), plus the
bearer security scheme. A unit test asserts the checked-in file equals what the app generates; after changing a
route or a model, regenerate it with

    .venv/bin/python -m servicelinker.api.openapi --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

API_DOC_VERSION = "2024-04-01"
CHECKED_IN = Path(__file__).resolve().parents[3] / "openapi" / "servicelinker.json"


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the stable document (cached)."""

    def generate() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
            doc["info"]["x-servicelinker-api-versions"] = _api_versions()
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = generate  # type: ignore[method-assign]


def _api_versions() -> list[str]:
    from servicelinker.model.linker import API_VERSIONS

    return list(API_VERSIONS)


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def document() -> dict[str, Any]:
    from servicelinker.api.app import create_app

    return create_app().openapi()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render(document())
    if "--write" in args:
        CHECKED_IN.parent.mkdir(parents=True, exist_ok=True)
        CHECKED_IN.write_text(text)
        print(f"wrote {CHECKED_IN}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
