"""InteractionsFunction: POST /recommendations/interact, POST /recommendations/feedback."""

from dummi.api import interactions
from dummi.api.app import create_app
from dummi.lambda_handler import make_handler

app = create_app([interactions.router])
handler = make_handler(app)
