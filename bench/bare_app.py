"""The ceiling: a bare Flask JSON route, served with the same gunicorn.conf.py.

bench/run.py serves it with ``gunicorn -c gunicorn.conf.py bench.bare_app:app``
and compares GET /api/users/me with this route, which has no extensions, no
blueprints, no after_request hooks: the cost of Flask + gunicorn alone.
"""

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.get("/api/healthChecker")
def health_checker() -> Response:
    return jsonify(status="success", message="Welcome to authapi, the JWT authentication API")
