"""A local webhook receiver for the tests: an HTTP server that records the
JSON bodies POSTed to it (and their headers), answers `code`, and can be
taken down and brought back on the same port."""

import http.server
import json
import ssl
import threading


def workdir_with_state(tmp_path_factory, label):
    """A fresh folder for a daemon, and its state_dir inside (mode 0750)."""
    work = tmp_path_factory.mktemp(label)
    state = work / "state"
    state.mkdir(mode=0o750)
    return work, state


class Receiver:
    def __init__(self, port=0, code=200, start=True, tls=None):
        self.lock = threading.Lock()
        self.events = []   # decoded JSON bodies, in arrival order
        self.headers = []  # the request headers of each, as dicts
        self.code = code
        self.httpd = None
        self.tls = tls  # (certificate file, key file): HTTPS
        self.port = port
        if start:
            self.up()
        elif not port:
            import gslbtest
            self.port = gslbtest.closed_port()

    def up(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                code = receiver.code
                if code == 200:
                    with receiver.lock:
                        receiver.events.append(json.loads(body))
                        receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", self.port), Handler)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def down(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def url(self, path="/hook"):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, path)

    def take(self, what=None):
        """The events received so far (of kind what), and forget them all."""
        with self.lock:
            ev, self.events, self.headers = self.events, [], []
        return [e for e in ev if what is None or e["what"] == what]

    def seen(self, what=None):
        with self.lock:
            return [e for e in self.events if what is None or e["what"] == what]
