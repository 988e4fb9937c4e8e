"""The FastAPI application factory used by every Lambda function and by the local server."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from dummi import __version__
from dummi.api.auth import API_KEY_HEADER
from dummi.api.errors import document_errors, install_error_handlers, reject_unknown_query
from dummi.api.limits import BodySizeLimit, LoadShedding
from dummi.api.text_guard import TextGuard, refuse_unstorable_body
from dummi.config import get_settings

DESCRIPTION = (
    "Hybrid content recommendations: users, content, interactions and feedback in; personal top-K recommendations"
    ' out.\n\nErrors are JSON, in one shape for every 4xx: a 422 is `{"detail": [{"loc", "msg", "type"}]}`'
    ' (`loc` names the field at fault); any other 4xx is `{"detail": "a sentence", "code", "field"}`.'
)


def create_app(routers: Sequence[APIRouter], *, docs: bool = False) -> FastAPI:
    """An app serving ``routers``. ``docs`` adds /docs and /openapi.json (the Lambda functions leave it off,
    so each serves exactly the routes the template gives it)."""
    app = FastAPI(
        title="Dummi",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        dependencies=[Depends(reject_unknown_query), Depends(refuse_unstorable_body)],
    )
    install_error_handlers(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    settings = get_settings()
    app.add_middleware(TextGuard)  # the URL's text, before routing (bodies: refuse_unstorable_body)
    app.add_middleware(BodySizeLimit, max_bytes=settings.dummi_max_body_bytes)
    if settings.cors_origins:  # in AWS the HttpApi answers CORS itself (template parameter CorsAllowOrigins)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", API_KEY_HEADER],
            max_age=600,
        )
    if settings.dummi_max_in_flight:  # outermost: a shed request costs no body read and no routing
        app.add_middleware(LoadShedding, max_in_flight=settings.dummi_max_in_flight)
    for router in routers:
        app.include_router(router)
    return app


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document of the app, with the error answers every operation may give (built once)."""
    if app.openapi_schema is None:
        document_errors(FastAPI.openapi(app))
    return app.openapi_schema  # type: ignore[return-value]


def all_routers() -> list[APIRouter]:
    # numpy and FAISS (the recommendations and meta routers): each Lambda imports this module with its own
    # routers only, and the write functions ship neither; every router is for the local server and the spec
    from dummi.api import (
        batch,
        console,
        content,
        event_types,
        experiments,
        health,
        interactions,
        keys,
        metrics,
        overview,
        personalize,
        recommendations,
        training,
        trending,
        users,
    )

    return [
        health.router,
        users.router,
        content.router,
        interactions.router,
        trending.router,
        recommendations.router,
        training.router,
        keys.router,
        event_types.router,
        experiments.router,
        metrics.router,
        batch.router,
        overview.router,
        console.router,
        *personalize.routers(),
    ]


def create_full_app() -> FastAPI:
    """Every route in one app, with docs: the local server, the exported spec and the docs function."""
    return create_app(all_routers(), docs=True)
