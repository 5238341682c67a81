"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``.

gunicorn does not read .env, so load it here (the ``flask`` command does it itself).
"""

from dotenv import load_dotenv

load_dotenv()

from authapi import create_app  # noqa: E402  (after the environment is loaded)

app = create_app()
