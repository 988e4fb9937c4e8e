"""MetaFunction: GET /health, the API's docs (GET /docs, GET /openapi.json) for every route group, and API key
management (POST /keys, GET /keys, DELETE /keys/{key_id}; admin scope), event types (GET /event-types,
PUT and DELETE /event-types/{name}; admin scope).

The docs describe the whole API, so this app mounts every router; the template routes only the
routes above to it. Routers import no heavy libraries, so this stays a small, fast function.
"""

from dummi.api.app import create_full_app
from dummi.lambda_handler import make_handler

app = create_full_app()
handler = make_handler(app)
