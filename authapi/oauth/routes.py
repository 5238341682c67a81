"""Thin views for provider sign-in and identities (registered only when providers are).

Browsers (an Accept header naming text/html: a navigation) get redirects, with an
``error`` parameter on the front end when something fails; other clients get JSON
(503 when the provider is down).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from authapi import body
from authapi.auth.guard import current_user, login_required
from authapi.auth.responses import (
    client_ip,
    client_user_agent,
    replaced_session_id,
    set_sign_in_cookies,
    token_response,
)
from authapi.oauth import flows, redirects, service
from authapi.oauth.schemas import link_schema
from authapi.ratelimits import limit_provider_redirects

blueprint = Blueprint("oauth", __name__, url_prefix="/api/auth")


def is_browser() -> bool:
    """A navigation names text/html explicitly; fetch, curl and API clients do not."""
    return any(value == "text/html" and quality > 0 for value, quality in request.accept_mimetypes)


def refuse_head() -> None:
    """Both GET routes change state (a flow is created or used up): never on HEAD."""
    if request.method == "HEAD":
        raise MethodNotAllowed(valid_methods=["GET"])


def redirect(location: str) -> Response:
    """A 302 with no body (Flask's has an HTML one; every answer here is JSON or empty)."""
    response = Response(status=302, headers={"Location": location})
    del response.headers["Content-Type"]
    return response


def _failure_redirect(failure: service.OAuthFailure) -> Response | None:
    target = failure.redirect_to or service.default_redirect()
    if target is None:
        return None
    location = redirects.with_params(target, error=failure.code)
    if failure.extra.get("mfa_token"):
        # The second step: the front end posts the token and a code to /api/auth/login/mfa.
        # In the fragment, which browsers never send to a server (nor in a Referer).
        location += "#" + urlencode(
            {"mfa_token": failure.extra["mfa_token"], "methods": ",".join(failure.extra["methods"])}
        )
    response = redirect(location)
    flows.clear_cookie(response)
    return response


@blueprint.get("/providers")
def list_providers() -> Response:
    listed = [
        {"name": provider.name, "display_name": provider.display_name}
        for provider in service.providers().values()
    ]
    return jsonify(status="success", data={"providers": listed})


@blueprint.get("/oauth/<provider>/authorize")
@limit_provider_redirects
def authorize(provider: str) -> Response:
    refuse_head()
    try:
        flow_id, url = service.begin(provider, request.args.get("redirect_to"))
    except service.OAuthFailure as failure:
        response = _failure_redirect(failure) if is_browser() else None
        if response is None:
            raise
        return response
    response = redirect(url)
    flows.set_cookie(response, flow_id)
    return response


@blueprint.get("/oauth/<provider>/callback")
def callback(provider: str) -> Response:
    refuse_head()
    params = {key: value for key, value in request.args.items() if isinstance(value, str)}
    try:
        finished = service.finish(
            provider,
            request.cookies.get(flows.FLOW_COOKIE),
            params,
            ip=client_ip(),
            user_agent=client_user_agent(),
            replacing=replaced_session_id(),
        )
    except service.OAuthFailure as failure:
        response = _failure_redirect(failure) if is_browser() else None
        if response is None:
            raise
        return response
    if is_browser():
        response = redirect(
            redirects.with_params(finished.redirect_to, linked=provider)
            if finished.identity is not None
            else finished.redirect_to
        )
        if finished.issued is not None:
            set_sign_in_cookies(response, finished.issued)
    elif finished.issued is not None:
        response = token_response(finished.issued)
    else:
        assert finished.identity is not None
        response = jsonify(status="success", data={"identity": service.describe(finished.identity)})
    flows.clear_cookie(response)
    return response


@blueprint.post("/identities/<provider>/link")
@login_required(changes_state=True)
def link(provider: str) -> Response:
    data = body.load(link_schema) if request.content_length else {}
    flow_id, url = service.begin(provider, data.get("redirect_to"), current=current_user())
    response = jsonify(status="success", data={"authorization_url": url})
    flows.set_cookie(response, flow_id)
    return response


@blueprint.get("/identities")
@login_required()
def list_identities() -> Response:
    listed = [service.describe(row) for row in service.list_identities(current_user())]
    return jsonify(status="success", data={"identities": listed})


@blueprint.delete("/identities/<identity_id>")
@login_required(changes_state=True)
def unlink(identity_id: str) -> Response:
    service.unlink(current_user(), identity_id)
    return jsonify(status="success")
