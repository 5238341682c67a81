"""Each request's database session ends with the request: its connection goes back to
the pool, whether the request used the database or was answered from Redis alone."""

from __future__ import annotations

from authapi.extensions import db, discard_session
from tests.helpers import bearer, login, register


def test_every_request_gives_its_connection_back(app, client):
    register(client)
    token = login(client)  # reads the account: a database session
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200  # Redis only
    assert client.get("/api/healthChecker").status_code == 200  # neither
    assert client.get("/api/auth/sessions", headers=bearer(token)).status_code == 200
    with app.app_context():
        assert db.engine.pool.checkedout() == 0


def test_a_session_made_in_a_context_is_closed_and_forgotten_at_its_end(app):
    with app.app_context():
        db.session.execute(db.select(1))
        assert db.session.registry.has()
        assert db.engine.pool.checkedout() == 1
        discard_session()
        assert not db.session.registry.has()
        assert db.engine.pool.checkedout() == 0
        discard_session()  # nothing left: nothing to do, no error


def test_the_session_is_discarded_once_per_context_by_our_teardown_alone(app):
    """Flask-SQLAlchemy's own teardown did the same work again after ours."""
    assert app.teardown_appcontext_funcs.count(discard_session) == 1
    assert db._teardown_session not in app.teardown_appcontext_funcs
