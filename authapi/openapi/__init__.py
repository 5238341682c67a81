"""The OpenAPI 3.1 document (``GET /api/openapi.json``) and the interactive API docs
(``GET /api/docs``).

The package, one job per module:

- ``components.py``: schema helpers (``obj``, ``success``, ``page_of``, ``ref``), the
  shared component schemas, headers, error responses and security schemes;
- ``operation.py``: ``Operation`` and ``Reply``, the way a route is described;
- ``operations/<area>.py``: each area's operations (auth, accounts, users, admin,
  keys, health, docs), found by name: no list to edit;
- ``document.py``: the builder (apispec, marshmallow plugin), once per app;
- ``views.py``: the blueprint serving the document and the Swagger UI page.

``tests/test_openapi.py`` checks that every rule of ``app.url_map`` (but the asset
routes in ``views.UNDOCUMENTED_ENDPOINTS``) is documented with its methods and that
nothing else is, validates the document, and runs schemathesis against a live server:
every answer must have a documented status, content type, headers and body.

Documenting a new route
-----------------------
Add an ``Operation`` to the ``OPERATIONS`` tuple of your area's module, or create
``authapi/openapi/operations/<feature>.py`` with its own ``OPERATIONS`` (plus
``TAGS``, ``COMPONENTS`` or ``SCHEMAS`` if it needs new ones): nothing else to edit.
For ``@blueprint.get("/<uuid:user_id>")`` under ``/api/users``::

    from authapi.openapi.components import ACCESS, UUID, obj, success
    from authapi.openapi.operation import Operation, Reply, quoted

    OPERATIONS = (
        Operation(
            "getUser", "GET", "/api/users/{user_id}", "admin", "One user (admins only)",
            auth=ACCESS,
            path_params={"user_id": UUID},
            ok=Reply(200, success(data=obj(user="AdminUser"))),
            errors=(401, (404, quoted(USER_NOT_FOUND), "user_not_found"), 503),
        ),
    )

- path: the Flask rule with each ``<converter:name>`` written ``{name}``;
  ``path_params`` gives a parameter's JSON Schema when it is not any string.
- tag: one of ``document.TAGS`` or of your module's ``TAGS``
  (``({"name": "mfa", "description": "..."},)``).
- ``auth``: ACCESS (Bearer header or ``access_token`` cookie), REFRESH, or nothing.
- ``body``: a component schema name for a JSON request body (a marshmallow schema in
  ``COMPONENTS``: ``{"MfaVerify": (schemas.MfaVerifySchema, {})}``); ``query``: a
  marshmallow schema class (one parameter per field) or parameter dicts; ``headers``:
  header parameter dicts.
- ``ok``: the success status and body; ``success(...)`` builds the envelope, ``obj``
  an object whose properties are all required, and a string names a component schema.
  ``headers`` names response headers (``{"Set-Cookie": "SetAuthCookies"}``).
- ``errors``: every other status the route can answer, each a status (a shared
  response) or ``(status, "when")``, quoting the exact messages with ``quoted(...)``
  (the first is the example), and ``(status, "when", "code")`` names the example's
  error ``code`` too. All share the error envelope; 429 and 503 carry Retry-After.
  ``BODY_ERRORS`` are the statuses of any route that reads a JSON body.
- a new error ``code`` (``APIError(message, code=...)``): add it to
  ``components.ERROR_CODES`` (``tests/test_structure.py`` checks).
- ``when``: a config flag; the operation exists only in apps where it is true
  (a route registered conditionally, like ``/metrics``).
- a marshmallow schema used in a response: ``(Schema, dumped(Schema))`` (every field it
  dumps is required). A ``fields.Function`` has no type for apispec: document it with
  a subclass (``components.UserDoc``).
"""
