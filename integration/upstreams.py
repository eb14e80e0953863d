#!/usr/bin/python3
"""Real upstream servers for Skiff's integration tests, the demo and manual poking.

EchoHTTPServer answers every request with JSON describing what it received (method, path,
headers, body length and sha256). Query parameters change its behaviour:

    sleep=SECONDS       wait before answering
    status=CODE         answer with this status
    size=N              answer with an N-byte deterministic body (see pattern()) instead of JSON
    chunked=1           send the body with Transfer-Encoding: chunked
    close_after=N       (with size) send headers and N body bytes, then close the connection
    drop=1              close the connection without answering
    garbage=1           answer with bytes that are not HTTP
    read_delay_ms=MS    read the request body slowly: sleep MS per 64 KiB read (pro rata)
    set_header=K:V      add a response header (repeatable)

A request carrying "Upgrade:" gets "101 Switching Protocols" and then the connection echoes
raw bytes until the client closes.

TcpServer modes: "echo" (echo as bytes arrive), "after_eof" (collect until the client's FIN,
then send everything back and close), "firehose" (send `size` pattern bytes as fast as the
peer takes them, then close).

Run standalone:
    /usr/bin/python3 integration/upstreams.py http --port 18080 --name hello
    /usr/bin/python3 integration/upstreams.py tcp --port 18082
"""

import argparse
import hashlib
import http.server
import json
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

BLOCK_SIZE = 64 * 1024
# A fixed, non-trivial 64 KiB block: bodies are this block repeated, so both ends can compute
# the expected sha256 without keeping the body in memory.
_BLOCK = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(BLOCK_SIZE // 32))


def pattern(size):
    """Yields the deterministic body of `size` bytes in pieces of at most 64 KiB."""
    full, tail = divmod(size, BLOCK_SIZE)
    for _ in range(full):
        yield _BLOCK
    if tail:
        yield _BLOCK[:tail]


def pattern_sha256(size):
    digest = hashlib.sha256()
    for piece in pattern(size):
        digest.update(piece)
    return digest.hexdigest()


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "skiff-test-upstream"

    def log_message(self, fmt, *args):  # keep test output quiet
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.server.name, fmt % args))

    # BaseHTTPRequestHandler calls do_<METHOD>; route every method to one place.
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _query(self):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)

    def _read_body(self, read_delay):
        """Reads the request body (Content-Length or chunked); returns (length, sha256)."""
        digest = hashlib.sha256()
        length = 0
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("eof in chunk size")
                chunk_size = int(line.split(b";", 1)[0].strip(), 16)
                if chunk_size == 0:
                    # Trailers, up to the empty line.
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                remaining = chunk_size
                while remaining:
                    piece = self.rfile.read(min(remaining, BLOCK_SIZE))
                    if not piece:
                        raise ConnectionError("eof in chunk")
                    digest.update(piece)
                    length += len(piece)
                    remaining -= len(piece)
                    if read_delay:
                        time.sleep(read_delay * len(piece) / BLOCK_SIZE)
                self.rfile.readline(16)  # CRLF after the chunk data
        else:
            remaining = int(self.headers.get("Content-Length", "0") or 0)
            while remaining:
                piece = self.rfile.read(min(remaining, BLOCK_SIZE))
                if not piece:
                    raise ConnectionError("eof in body")
                digest.update(piece)
                length += len(piece)
                remaining -= len(piece)
                if read_delay:
                    time.sleep(read_delay * len(piece) / BLOCK_SIZE)
        return length, digest.hexdigest()

    def _serve(self):
        server = self.server
        with server.lock:
            server.requests.append((self.command, self.path, dict(self.headers.items())))
            server.active += 1
            server.max_active = max(server.max_active, server.active)
        try:
            self._serve_one()
        finally:
            with server.lock:
                server.active -= 1

    def _serve_one(self):
        query = self._query()

        def q(name, default=None):
            values = query.get(name)
            return values[0] if values else default

        if self.headers.get("Upgrade"):
            self._upgrade()
            return

        read_delay = float(q("read_delay_ms", "0")) / 1000.0
        try:
            body_length, body_sha = self._read_body(read_delay)
        except (ConnectionError, ValueError):
            self.close_connection = True
            return

        if q("sleep"):
            time.sleep(float(q("sleep")))
        if q("drop"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if q("garbage"):
            self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return

        status = int(q("status", "200"))
        extra_headers = [h.split(":", 1) for h in query.get("set_header", []) if ":" in h]

        if q("size") is not None:
            size = int(q("size"))
            close_after = q("close_after")
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            for key, value in extra_headers:
                self.send_header(key, value)
            chunked = q("chunked") == "1" and close_after is None
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            sent = 0
            limit = int(close_after) if close_after is not None else size
            for piece in pattern(size):
                piece = piece[: max(0, limit - sent)]
                if not piece:
                    break
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                else:
                    self.wfile.write(piece)
                sent += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            if close_after is not None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            return

        payload = json.dumps({
            "server": self.server.name,
            "method": self.command,
            "path": self.path,
            "request_version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_length": body_length,
            "body_sha256": body_sha,
            "connection": self.server_connection_id,
        }).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream-Name", self.server.name)
        for key, value in extra_headers:
            self.send_header(key, value.strip())
        if q("chunked") == "1":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
        else:
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        self.wfile.flush()

    def _upgrade(self):
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", self.headers.get("Upgrade"))
        self.send_header("Connection", "Upgrade")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        # read1 returns whatever is buffered (bytes the client sent right behind the request)
        # or does one socket read, so the echo never waits for a full block.
        while True:
            try:
                data = self.rfile.read1(BLOCK_SIZE)
            except OSError:
                return
            if not data:
                return
            self.connection.sendall(data)

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the peer's
        # delayed ACK adds 40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.lock:
            self.server.connections_accepted += 1
            self.server_connection_id = self.server.connections_accepted


class EchoHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, host="127.0.0.1", port=0, name="echo", verbose=False):
        self.name = name
        self.verbose = verbose
        self.lock = threading.Lock()
        self.requests = []  # (method, path, headers) in arrival order
        self.connections_accepted = 0
        self.active = 0
        self.max_active = 0
        super().__init__((host, port), _EchoHandler)
        self._thread = None

    @property
    def port(self):
        return self.server_address[1]

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    def paths(self):
        with self.lock:
            return [path for _, path, _ in self.requests]


class FlakyHTTPServer(http.server.ThreadingHTTPServer):
    """Answers 503 to requests whose number (from 1) `fail(n)` picks, 200 otherwise; records
    each request's method, x-skiff-attempt-count and body, and when the first 503 and the
    last request came (time.monotonic()). `delay` seconds before answering."""

    daemon_threads = True
    request_queue_size = 512
    first_failure_at = None
    last_request_at = None

    def __init__(self, fail, delay=0.0):
        self.fail, self.delay = fail, delay
        self.lock = threading.Lock()
        self.count = 0
        self.seen = []
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server_address[1]


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: without this, Nagle and delayed ACKs hold
    # every keep-alive response for 40ms.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        server = self.server
        with server.lock:
            server.count += 1
            n = server.count
            server.seen.append((self.command, self.headers.get("x-skiff-attempt-count"), body))
        if server.delay:
            time.sleep(server.delay)
        status = 503 if server.fail(n) else 200
        with server.lock:
            server.last_request_at = time.monotonic()
            if status == 503 and server.first_failure_at is None:
                server.first_failure_at = server.last_request_at
        reply = b"fail\n" if status == 503 else b"ok\n"
        self.send_response(status)
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = _answer
    do_POST = _answer


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        with server.lock:
            server.connections_accepted += 1
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if server.mode == "echo":
                while True:
                    data = sock.recv(BLOCK_SIZE)
                    if not data:
                        break
                    sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            elif server.mode == "after_eof":
                received = []
                while True:
                    data = sock.recv(BLOCK_SIZE)
                    if not data:
                        break
                    received.append(data)
                sock.sendall(b"".join(received))
                sock.shutdown(socket.SHUT_WR)
            elif server.mode == "firehose":
                sent = 0
                for piece in pattern(server.size):
                    sock.sendall(piece)
                    sent += len(piece)
                with server.lock:
                    server.bytes_sent += sent
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class ThreadedTcpServer(socketserver.ThreadingTCPServer):
    """A TCP server on its own thread, a thread per connection; start() returns it."""
    daemon_threads = True
    allow_reuse_address = True

    @property
    def port(self):
        return self.server_address[1]

    def start(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


class TcpServer(ThreadedTcpServer):
    def __init__(self, host="127.0.0.1", port=0, mode="echo", size=0):
        assert mode in ("echo", "after_eof", "firehose")
        self.mode = mode
        self.size = size
        self.lock = threading.Lock()
        self.connections_accepted = 0
        self.bytes_sent = 0
        super().__init__((host, port), _TcpHandler)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["http", "tcp"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="echo", help="http: the name echoed in responses")
    parser.add_argument("--mode", default="echo", help="tcp: echo, after_eof or firehose")
    parser.add_argument("--size", type=int, default=0, help="tcp firehose: bytes to send")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.kind == "http":
        server = EchoHTTPServer(args.host, args.port, args.name, args.verbose)
    else:
        server = TcpServer(args.host, args.port, args.mode, args.size)
    print("listening on %s:%d" % (args.host, server.port), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
