"""Swagger UI fills request bodies from the document's examples: each body example is a
real value (not Swagger's "string"), and together they make a request the API accepts."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import PASSWORD, assert_fail, bearer, login, register

BODIES = ["Register", "Login", "Refresh", "ChangePassword", "Email", "ResetPassword"]


def _example(document: dict[str, Any], name: str) -> dict[str, Any]:
    properties = document["components"]["schemas"][name]["properties"]
    missing = [field for field, schema in properties.items() if "example" not in schema]
    assert missing == [], f"{name}: no example for {missing}"
    return {field: schema["example"] for field, schema in properties.items()}


@pytest.mark.parametrize("name", [*BODIES, "AdminUserUpdate", "User", "Session"])
def test_every_body_and_object_property_has_an_example(client: FlaskClient, name: str) -> None:
    document = client.get("/api/openapi.json").json
    properties = document["components"]["schemas"][name]["properties"]
    for field, schema in properties.items():
        if field in {"created_at", "updated_at", "last_used_at", "expires_at"}:
            continue  # date-time: Swagger shows a real timestamp by itself
        if schema.get("type") in {"string", None} and "enum" not in schema:
            assert "example" in schema, f"{name}.{field} would show as 'string'"


def test_the_register_and_login_examples_work_as_they_are(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").json
    registered = client.post("/api/auth/register", json=_example(document, "Register"))
    assert registered.status_code == 201, registered.json
    logged_in = client.post("/api/auth/login", json=_example(document, "Login"))
    assert logged_in.status_code == 200, logged_in.json
    assert client.post(
        "/api/auth/forgotpassword", json=_example(document, "Email")
    ).status_code == (200)


def test_the_change_password_example_is_a_well_formed_body(client: FlaskClient) -> None:
    """Its currentPassword is not the account's, so the answer is the wrong-password 400,
    not a validation error about the example's shape."""
    document = client.get("/api/openapi.json").json
    register(client)
    token = login(client)
    body = _example(document, "ChangePassword")
    assert body["currentPassword"] != PASSWORD
    answer = client.patch("/api/users/me/password", json=body, headers=bearer(token))
    assert_fail(answer, 400)
    assert set(answer.json.get("errors", {})) <= {"currentPassword"}
