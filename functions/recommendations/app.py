"""RecommendationsFunction: POST /recommendations/, GET /recommendations/popular, GET /recommendations/trending,
GET /content/{content_id}/similar. The model is loaded on first use and kept across invocations."""

from dummi.api import recommendations, trending
from dummi.api.app import create_app
from dummi.lambda_handler import make_handler

app = create_app([trending.router, recommendations.router])
handler = make_handler(app)
