"""The auth package: register, login, refresh, logout (``routes.blueprint``), the rules
(``service``), who is calling (``guard``), cookies and token responses.

Nothing is imported here: ``create_app`` imports ``authapi.auth.routes`` itself, so
importing ``authapi.auth.cookies`` does not load every blueprint.
"""
