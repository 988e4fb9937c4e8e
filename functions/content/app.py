"""ContentFunction: POST /content/, GET /content/{content_id}, GET /content/category/{category}."""

from dummi.api import content
from dummi.api.app import create_app
from dummi.lambda_handler import make_handler

app = create_app([content.router])
handler = make_handler(app)
