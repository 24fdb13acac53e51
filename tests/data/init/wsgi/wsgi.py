import os

DB_PATH = os.environ.get("DB_PATH", "/srv/wsgi/app.db")


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
