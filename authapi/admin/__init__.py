"""The admin package: managing users (role ``admin`` only) and the audit log
(``routes.blueprint``, ``service``). ``create_app`` imports the routes."""
