"""Shared helpers of the client tests: the import path and CI-aware skips."""

import os
import socket
import sys
import threading
import unittest
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]  # client/python
REPO_ROOT = PYTHON_DIR.parents[1]

# The package shepherd_prm lives in client/python (unless the tests run
# against an installed copy: SHEPHERD_PRM_INSTALLED=1).
if not os.environ.get("SHEPHERD_PRM_INSTALLED") and str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


def skip_or_fail(reason):
    """Skips the test (or class, in setUpClass), or fails it when the
    environment variable CI is set."""
    if os.environ.get("CI"):
        raise AssertionError(reason + " (not skipped because CI is set)")
    raise unittest.SkipTest(reason)


class Proxy:
    """A loopback TCP proxy to target_port that cuts its first connection
    once cut_after bytes went from the server to the client (later
    connections pass through), so a stream breaks midway whatever the
    timing of the job."""

    def __init__(self, target_port, cut_after):
        self.target_port = target_port
        self.cut_after = cut_after
        self.connections = 0
        self.cut = threading.Event()
        self._lsock = socket.socket()
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(16)
        self.port = self._lsock.getsockname()[1]
        self._socks = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._lsock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self.connections += 1
                limit = self.cut_after if self.connections == 1 else None
                self._socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, limit), daemon=True).start()

    def _pump(self, src, dst, limit):
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: limit - sent])
                    self.cut.set()
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        with self._lock:
            self._closed = True
            socks, self._socks = self._socks, []
        self._lsock.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
