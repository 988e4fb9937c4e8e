"""UsersFunction: POST /users/, GET /users/{user_id}, PUT /users/{user_id}."""

from dummi.api import users
from dummi.api.app import create_app
from dummi.lambda_handler import make_handler

app = create_app([users.router])
handler = make_handler(app)
