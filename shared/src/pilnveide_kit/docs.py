"""Swagger UI and ReDoc pages served from assets installed with the kit: no CDN, works offline.

The JavaScript and CSS come from the pinned `fastapi-offline` package (Swagger UI and ReDoc
bundles), so the pages load on a closed network and always show the version in `uv.lock`.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the installed Swagger UI and ReDoc bundles are, and the path they are served under.
ASSETS_DIR = str(files("fastapi_offline") / "static")
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI, *, title: str, openapi_url: str = "/openapi.json") -> None:
    """Serve Swagger UI at /docs and ReDoc at /redoc over openapi_url, assets from the package."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def _urls(request: Request) -> tuple[str, str]:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return root + openapi_url, root + ASSETS_PATH

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI: try the API from the browser (Authorize takes a client id and secret)."""
        document, assets = _urls(request)
        return get_swagger_ui_html(
            openapi_url=document,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        """ReDoc: the reference, one page."""
        document, assets = _urls(request)
        return get_redoc_html(
            openapi_url=document,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )
