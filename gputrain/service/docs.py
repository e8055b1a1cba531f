"""The API's documentation: Swagger UI served from the installed ``swagger-ui-bundle``
package (no CDN: ``/docs`` works on an offline GPU node) and the error responses every
route can give, with their shapes, in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

ASSETS = "/docs/assets"


class Error(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(BaseModel):
    detail: list[FieldError]


def _error(description: str, model: type[BaseModel] = Error) -> dict[str, Any]:
    return {"model": model, "description": description}


# what the routes behind the token can answer besides their success
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("A file name that leaves the inputs directory or is too long; a Host header "
                "the server does not answer to."),
    401: _error("No token or a wrong one (`Authorization: Bearer <token>`)."),
    404: _error("No such job, input, artifact or word."),
    409: _error("The job's state does not allow it; an input a queued or running job uses."),
    413: _error("A request body, job params or upload over its limit."),
    422: _error("An invalid job spec or query: `detail[].loc` names the field, `msg` why.",
                ValidationErrors),
    507: _error("The data directory's disk is full: `detail` names what could not be "
                "written."),
}

UPLOAD_BODY = {"requestBody": {"required": True, "description": "The file's bytes, streamed.",
                               "content": {"application/octet-stream": {
                                   "schema": {"type": "string", "format": "binary"}}}}}


def serve_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) with its assets from the package, not a CDN."""
    import swagger_ui_bundle

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")
