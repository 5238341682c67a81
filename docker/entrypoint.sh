#!/bin/sh
# Container entrypoint: apply database migrations, then hand PID 1 to gunicorn.
set -eu

# One-off commands (e.g. `docker compose run --rm app flask keys generate`)
# run as given, without migrating first.
if [ "$#" -gt 0 ]; then
    exec "$@"
fi

flask --app wsgi db upgrade

# The server without docstrings (python -OO): each worker about 5 MB smaller, see
# docs/performance.md (change 25). PYTHONOPTIMIZE=0 in the environment keeps them.
export PYTHONOPTIMIZE="${PYTHONOPTIMIZE:-2}"
exec gunicorn -c gunicorn.conf.py wsgi:app
