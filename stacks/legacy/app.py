"""Notes: a small guestbook that ran for years on one old server, before containers.

Standard library only: wsgiref serves it, sqlite3 keeps the notes in $DATA_DIR/notes.db.

    GET  /                 the notes, newest first, as HTML
    GET  /add?text=...     add a note (POST /add with a form field `text` too), then back to /
    GET  /healthz          "ok" when the database answers
    GET  /count            the number of notes, as text (for scripts and checks)

PORT (default 8080) and DATA_DIR (default ./data) come from the environment; on the old server the
systemd unit legacy.service set them.
"""

import html
import os
import sqlite3
import sys
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

PORT = int(os.environ.get("PORT", "8080"))
DATA_DIR = os.environ.get("DATA_DIR", "./data")
DB_PATH = os.path.join(DATA_DIR, "notes.db")
MAX_NOTE = 500


def connect() -> sqlite3.Connection:
    os.makedirs(DATA_DIR, exist_ok=True)
    db = sqlite3.connect(DB_PATH, timeout=10)
    db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, "
               "created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
    return db


def respond(start_response, status: str, body: str, kind: str = "text/plain; charset=utf-8", headers=()):
    data = body.encode()
    start_response(status, [("Content-Type", kind), ("Content-Length", str(len(data))), *headers])
    return [data]


def page(db: sqlite3.Connection) -> str:
    rows = db.execute("SELECT text, created FROM notes ORDER BY id DESC").fetchall()
    items = "\n".join(f"<li>{html.escape(text)} <small>{html.escape(created)}</small></li>" for text, created in rows)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Notes</title></head><body>"
            "<h1>Notes</h1><form method='post' action='/add'><input name='text'> <button>Add</button></form>"
            f"<ul>\n{items}\n</ul></body></html>\n")


def note_text(environ) -> str:
    fields = parse_qs(environ.get("QUERY_STRING", ""))
    if environ["REQUEST_METHOD"] == "POST":
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), 64 * 1024)
        except ValueError:
            length = 0
        fields.update(parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace")))
    return (fields.get("text") or [""])[0].strip()[:MAX_NOTE]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    try:
        db = connect()
    except sqlite3.Error as exc:
        return respond(start_response, "503 Service Unavailable", f"database: {exc}\n")
    try:
        if path == "/healthz":
            db.execute("SELECT 1").fetchone()
            return respond(start_response, "200 OK", "ok\n")
        if path == "/add":
            text = note_text(environ)
            if not text:
                return respond(start_response, "400 Bad Request", "give a note: /add?text=...\n")
            with db:
                db.execute("INSERT INTO notes (text) VALUES (?)", (text,))
            return respond(start_response, "303 See Other", "added\n", headers=[("Location", "/")])
        if path == "/count":
            return respond(start_response, "200 OK", f"{db.execute('SELECT COUNT(*) FROM notes').fetchone()[0]}\n")
        if path == "/":
            return respond(start_response, "200 OK", page(db), "text/html; charset=utf-8")
        return respond(start_response, "404 Not Found", "not found\n")
    finally:
        db.close()


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # one line per request on stderr, as journald kept it
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


if __name__ == "__main__":
    with make_server("0.0.0.0", PORT, application, ThreadingWSGIServer, QuietHandler) as server:
        print(f"notes: serving on port {PORT}, database {DB_PATH}", flush=True)
        server.serve_forever()
