"""PersonalizeFunction: Amazon Personalize's APIs for boto3's own clients (endpoint_url ".../personalize"):
personalize-runtime (POST /personalize/recommendations, /personalize/personalize-ranking), personalize-events
(POST /personalize/events, /items, /users) and the filter operations of the control plane (POST /personalize).
The model is loaded on first use and kept across invocations, as in the recommendations function."""

from dummi.api.app import create_app
from dummi.api.personalize import control, events, runtime
from dummi.lambda_handler import make_handler

app = create_app([runtime.router, events.router, control.router])
handler = make_handler(app)
