"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""

from fdoctor import create_app

app = create_app()
