"""The embedded default's HTTP server: the Chalice app plus signed blob links.

Chalice's local server runs the API routes. Requests for ``/v1/blobs/<token>``
never reach Chalice: the handler checks the token and streams the file, so
large frames and tarballs are not loaded into memory. Request bodies over
the size limit are rejected before they are read.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer

from framesieve import runtime
from framesieve.api import app
from framesieve.errors import NotFound
from framesieve.names import MAX_BODY_BYTES
from framesieve.openapi import OPENAPI_PATH

logger = logging.getLogger(__name__)

BLOB_PREFIX = "/v1/blobs/"
_DRAIN_LIMIT = 16 * 1024 * 1024

_CONTENT_TYPES = {".jpg": "image/jpeg", ".json": "application/json", ".gz": "application/gzip"}


class FramesieveRequestHandler(ChaliceRequestHandler):
    def _send_json(self, status: int, description: str) -> None:
        body = json.dumps({"description": description}).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _generic_handle(self) -> None:
        if self.path.startswith(BLOB_PREFIX):
            self._serve_blob()
            return

        # Chalice's local gateway returns API Gateway's 403 {"message": ...}
        # for an unknown path, but every framesieve error carries a description.
        path = self.path.split("?", 1)[0]
        if path not in app.routes:
            self._send_json(404, f"no endpoint at {path[:200]!r}; the endpoints are listed at {OPENAPI_PATH}")
            self.close_connection = True
            return

        try:
            length = int(self.headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._send_json(400, "invalid Content-Length header")
            self.close_connection = True
            return
        if length > MAX_BODY_BYTES:
            # Drain a moderately oversized body so the client reads the 413
            # instead of a broken pipe; beyond the cap, just hang up after it.
            if length <= _DRAIN_LIMIT:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            self._send_json(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
            self.close_connection = True
            return
        super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _serve_blob(self) -> None:
        token = self.path[len(BLOB_PREFIX) :].split("?", 1)[0]
        blobs = runtime.current().blobs
        try:
            path = blobs.resolve_link(token)
        except NotFound as exc:
            self._send_json(404, exc.description)
            return

        content_type = next(
            (kind for suffix, kind in _CONTENT_TYPES.items() if path.name.endswith(suffix)),
            "application/octet-stream",
        )
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        if self.command != "HEAD":
            with open(path, "rb") as handle:
                shutil.copyfileobj(handle, self.wfile, 1024 * 1024)

    def log_message(self, format: str, *args) -> None:
        logger.debug("http %s", format % args)


def make_server(host: str, port: int) -> LocalDevServer:
    config = Config.create(chalice_app=app, app_name=app.app_name, stage="dev")

    # What chalice.local.create_local_server does, which takes no handler
    # class: give the app the thread-local request of Chalice's local mode.
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, host, port, handler_cls=FramesieveRequestHandler)


class ServerThread:
    """Runs the server on a background thread; for tests and the demo."""

    def __init__(self, host: str, port: int) -> None:
        self.server = make_server(host, port)
        self.port = self.server.server.server_address[1]
        self._thread = threading.Thread(target=self.server.server.serve_forever, name="http", daemon=True)

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server.server_close()
        self._thread.join(timeout=5)


def serve(host: str, port: int) -> None:
    """Serve in the foreground until interrupted, resuming unfinished jobs first."""
    current = runtime.current()
    resumed = current.executor.resume(current.records)
    server = make_server(host, port)
    logger.info("serving on http://%s:%d data=%s resumed_jobs=%d", host, port, current.settings.home, resumed)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopping server")
    finally:
        server.server.server_close()
        current.executor.close()
