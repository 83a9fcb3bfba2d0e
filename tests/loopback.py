"""What the download tests share: an HTTP server on 127.0.0.1 in a thread, and a VOC-format tar in memory."""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class LoopbackServer(ThreadingHTTPServer):
    """Serves ``files`` (``{path: bytes}``) with ``handler`` on a free port of 127.0.0.1."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.files: dict[str, bytes] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@contextmanager
def serving(srv: LoopbackServer) -> Iterator[LoopbackServer]:
    """``srv`` answering in a daemon thread until the block ends; then shut down and closed."""
    thread = threading.Thread(target=srv.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def voc_tar_bytes(src: Path) -> bytes:
    """``src/VOCdevkit`` (as make_synthetic_voc writes it) as an uncompressed tar, like VOC2012's archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(src / "VOCdevkit", arcname="VOCdevkit")
    return buffer.getvalue()
