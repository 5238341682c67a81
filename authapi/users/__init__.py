"""The users package: the calling user's views (``routes.blueprint``), account rules
(``service``) and user lookups (``repository``). ``create_app`` imports the routes."""
