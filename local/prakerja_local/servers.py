"""A threaded werkzeug HTTP server on 127.0.0.1, bound at construction so its port is known."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import make_server


class HttpServer:
    """A threaded werkzeug server on 127.0.0.1 (bound at construction, so the port is known)."""

    def __init__(self, app: Any, port: int, name: str) -> None:
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self._server.server_port
        self.name = name
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    @property
    def alive(self) -> bool:
        """Whether the server thread is running."""
        return bool(self._thread and self._thread.is_alive())
