import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path in ("/", "/ping") else 404)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("0.0.0.0", int(os.getenv("PORT", "9000"))), Handler).serve_forever()
