"""A small HTTP/1.1 file server on 127.0.0.1 for ironrack-imgwrite's tests
(tests/system/test_imgwrite.py), behaving like the rack's boot HTTP server
(Content-Length, one "Range: bytes=N-" answered 206 with Content-Range) and
misbehaving on request:

    srv = ImageServer({"/images/a": data, "/images/b": "/path/to/file"})  # bytes, or a file sent with sendfile
    srv.drop_after = [3 << 20]   # cut the next response after 3 MiB of body
    srv.ignore_range = True      # answer every request 200, whole file
    srv.fail_first = [503]       # answer the next request 503 (Retry-After: 0)
    srv.requests                 # [(path, range header or None)]
    srv.close()
"""

import http.server
import os
import re
import socket
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        srv = self.server.owner
        rng = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((self.path, rng))
            fail = srv.fail_first.pop(0) if srv.fail_first else None
            drop = srv.drop_after.pop(0) if srv.drop_after else None
        if fail:
            self.send_response(fail)
            self.send_header("Content-Length", "0")
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        path = None
        if isinstance(data, str):  # a file's path: sent with sendfile(2), as the rack does
            path = data
            data = range(os.path.getsize(path))  # only its length and slices' lengths are used
        first = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and not srv.ignore_range:
            first = int(m.group(1))
            if first >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[first:] if path else memoryview(data)[first:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if path:
            with open(path, "rb") as f:
                self.connection.sendfile(f, first, len(body) if drop is None else min(drop, len(body)))
            if drop is not None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if drop is not None:
            # Part of the body, then the connection breaks.
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        step = 1 << 20
        for off in range(0, len(body), step):
            self.wfile.write(body[off:off + step])


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The writer hangs up on purpose (a refused size, a failed check):
        # not worth a traceback.
        pass


class ImageServer:
    def __init__(self, files):
        self.files = dict(files)
        self.lock = threading.Lock()
        self.requests = []
        self.drop_after = []
        self.fail_first = []
        self.ignore_range = False
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
