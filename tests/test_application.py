"""The app's Flask class: ensure_sync is asked once per function, not per request."""

from __future__ import annotations

from authapi.application import AuthAPI


def test_the_app_is_built_from_authapi_and_serves_as_flask_does(app, client):
    assert isinstance(app, AuthAPI)
    assert client.get("/api/healthChecker").status_code == 200


def test_ensure_sync_answers_from_memory_after_the_first_request(make_app):
    app = make_app()
    client = app.test_client()
    client.get("/api/healthChecker")
    remembered = dict(app._synchronous)
    assert app.view_functions["health.health_checker"] in remembered
    client.get("/api/healthChecker")
    assert app._synchronous == remembered  # the same functions, nothing asked again


def test_a_plain_function_is_returned_as_it_is_and_unhashable_callables_still_work():
    app = AuthAPI(__name__)

    def view() -> str:
        return "ok"

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> str:
            return "called"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view
    odd = Unhashable()
    assert app.ensure_sync(odd)() == "called"
