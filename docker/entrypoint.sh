#!/bin/sh
# Container entrypoint: apply database migrations, then hand PID 1 to gunicorn.
set -eu

# One-off commands (e.g. `docker compose run --rm app flask keys generate`)
# run as given, without migrating first.
if [ "$#" -gt 0 ]; then
    exec "$@"
fi

flask --app wsgi db upgrade

exec gunicorn -c gunicorn.conf.py wsgi:app
