"""The accounts package: email verification and password reset (``routes.blueprint``,
``service``). ``create_app`` imports the routes."""
