"""End-to-end data integrity (issue 10): random payloads through the proxy, a SHA-256 compared
on both ends, for every protocol the proxy carries. A proxy that drops the tail of a stream at
close, or loses bytes queued toward a slow reader, fails here.

Races (the upstream finishing while bytes are still queued toward the client) show up 1 time
in 20 or so, so the TCP cases run many times: SKIFF_INTEGRITY_RUNS (default 50; the sanitizer
run of tools/test uses fewer) of SKIFF_INTEGRITY_MB MiB (default 10).
"""

import hashlib
import os
import random
import socket
import socketserver
import subprocess
import threading
import time

import pytest

import grpc_service
import upstreams
from harness import (RawConnection, bootstrap, cluster, h2_cluster, http_listener, route,
                     simple_http_config, tcp_listener, vhost)
from pki import identity, make_ca, make_leaf

MB = 1024 * 1024
RUNS = int(os.environ.get("SKIFF_INTEGRITY_RUNS", "50"))
SIZE = int(os.environ.get("SKIFF_INTEGRITY_MB", "10")) * MB
# Odd sizes on purpose: empty, one byte, one under and over a 64 KiB read, a prime-ish MiB.
SMALL_SIZES = (0, 1, 65535, 65537, MB + 7)
CHUNK = 64 * 1024


def payload(size, seed):
    return random.Random(seed).randbytes(size)


def sha(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# A TCP upstream whose behaviour each connection chooses with its first line, so one server
# serves every case:  b"MODE SIZE SEED DELAY_MS\n"
#   echo    echo bytes as they arrive (reading slowly with DELAY_MS per 64 KiB read); at the
#           client's FIN, half-close and close (the reproduction)
#   source  send SIZE bytes of payload(SIZE, SEED) and half-close FIRST, then read the client's
#           bytes to EOF; their digest is recorded under SEED

class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        header = b""
        while not header.endswith(b"\n"):
            byte = sock.recv(1)
            if not byte:
                return
            header += byte
        mode, size, seed, delay_ms = header.split()
        size, seed, delay = int(size), int(seed), int(delay_ms) / 1000.0
        try:
            if mode == b"echo":
                while True:
                    data = sock.recv(CHUNK)
                    if not data:
                        break
                    sock.sendall(data)
                    if delay:
                        time.sleep(delay)
                sock.shutdown(socket.SHUT_WR)
            elif mode == b"source":
                sock.sendall(payload(size, seed))
                sock.shutdown(socket.SHUT_WR)
                digest, total = hashlib.sha256(), 0
                while True:
                    data = sock.recv(CHUNK)
                    if not data:
                        break
                    digest.update(data)
                    total += len(data)
                    if delay:
                        time.sleep(delay)
                with self.server.lock:
                    self.server.received[seed] = (total, digest.hexdigest())
        except OSError as e:
            with self.server.lock:
                self.server.errors.append(repr(e))


class IntegrityServer(upstreams.ThreadedTcpServer):
    request_queue_size = 128

    def __init__(self, rcvbuf=None):
        self.lock = threading.Lock()
        self.received = {}
        self.errors = []
        self.rcvbuf = rcvbuf
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self):
        if self.rcvbuf:
            # Inherited by accepted sockets: a small window makes a slow reader push back fast.
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        super().server_bind()

    def wait_received(self, seed, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if seed in self.received:
                    return self.received[seed]
            time.sleep(0.005)
        raise AssertionError("upstream never saw the end of connection %d (errors: %s)" % (
            seed, self.errors))


@pytest.fixture
def integrity_server():
    servers = []

    def make(**kwargs):
        server = IntegrityServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def _connect(port, rcvbuf=None):
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    return sock


def _read_to_eof(sock, slow=False):
    digest, total = hashlib.sha256(), 0
    while True:
        data = sock.recv(CHUNK)
        if not data:
            return total, digest.hexdigest()
        digest.update(data)
        total += len(data)
        if slow:
            time.sleep(0.0005)


def echo_round_trip(port, size, seed, upstream_delay_ms=0, slow_client=False):
    """Sends `size` bytes while a second thread reads the echo, half-closes, reads to EOF.
    Returns (bytes back, their sha256) next to the sha256 sent."""
    data = payload(size, seed)
    sock = _connect(port, rcvbuf=32 * 1024 if slow_client else None)
    result = {}

    def read():
        try:
            result["got"] = _read_to_eof(sock, slow=slow_client)
        except OSError as e:
            result["error"] = e

    reader = threading.Thread(target=read)
    with sock:
        sock.sendall(b"echo %d %d %d\n" % (size, seed, upstream_delay_ms))
        reader.start()
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reader.join(60)
    assert "error" not in result, "run %d: %r" % (seed, result["error"])
    assert result.get("got") == (size, sha(data)), "run %d: got %d of %d bytes (%s)" % (
        seed, result.get("got", (0,))[0], size, "digest differs" if result.get("got", (0,))[0]
        == size else "short")


def upstream_closes_first(port, server, size, seed, upstream_delay_ms=0):
    """The upstream sends `size` bytes and half-closes before the client has sent anything;
    then the client sends its own `size` bytes and half-closes. Both ends check a digest."""
    sock = _connect(port)
    with sock:
        sock.sendall(b"source %d %d %d\n" % (size, seed, upstream_delay_ms))
        assert _read_to_eof(sock) == (size, sha(payload(size, seed))), "run %d: download" % seed
        data = payload(size, seed + 1)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        # The proxy closes the client only once the upstream has everything.
        assert _read_to_eof(sock)[0] == 0
    assert server.wait_received(seed) == (size, sha(data)), "run %d: upload" % seed


def _tcp_proxy(proxy_factory, port, **extra):
    return proxy_factory(bootstrap([tcp_listener("up", **extra)], [cluster("up", [port])]))


def _resets(proxy):
    return sum(proxy.metric("skiff_tcp_resets_total", listener=listener, origin=origin,
                            default=0)
               for listener in proxy.listeners() for origin in ("downstream", "upstream"))


# ---------------------------------------------------------------------------------------------
# TCP

def test_tcp_client_half_closes_first(proxy_factory, integrity_server):
    server = integrity_server()
    proxy = _tcp_proxy(proxy_factory, server.port)
    for size in SMALL_SIZES:
        echo_round_trip(proxy.port("tcp"), size, size)
    for run in range(RUNS):
        echo_round_trip(proxy.port("tcp"), SIZE, 1000 + run)
    assert _resets(proxy) == 0


def test_tcp_upstream_half_closes_first(proxy_factory, integrity_server):
    # A slow upstream reader, so the client's bytes are still queued in the proxy when the
    # client's side of the connection has finished.
    server = integrity_server(rcvbuf=32 * 1024)
    proxy = _tcp_proxy(proxy_factory, server.port)
    for size in SMALL_SIZES:
        upstream_closes_first(proxy.port("tcp"), server, size, 2 * size + 1)
    for run in range(max(RUNS // 5, 2)):
        upstream_closes_first(proxy.port("tcp"), server, SIZE, 10_000 + 2 * run,
                              upstream_delay_ms=1)
    assert _resets(proxy) == 0


def test_tcp_slow_downstream_reader(proxy_factory, integrity_server):
    server = integrity_server()
    proxy = _tcp_proxy(proxy_factory, server.port)
    for run in range(max(RUNS // 5, 2)):
        echo_round_trip(proxy.port("tcp"), SIZE, 20_000 + run, slow_client=True)


def test_tcp_slow_upstream_reader(proxy_factory, integrity_server):
    server = integrity_server(rcvbuf=32 * 1024)
    proxy = _tcp_proxy(proxy_factory, server.port)
    for run in range(max(RUNS // 5, 2)):
        echo_round_trip(proxy.port("tcp"), SIZE, 30_000 + run, upstream_delay_ms=1)


def test_tcp_64_mib_once(proxy_factory, integrity_server):
    server = integrity_server()
    proxy = _tcp_proxy(proxy_factory, server.port)
    echo_round_trip(proxy.port("tcp"), 64 * MB, 64)


def test_tcp_reset_by_upstream_reaches_the_client_as_a_reset(proxy_factory):
    """An upstream that aborts mid-stream must not look like a complete stream downstream."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def abort_after_sending():
        conn, _ = listener.accept()
        conn.sendall(b"x" * 100_000)
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    threading.Thread(target=abort_after_sending, daemon=True).start()
    proxy = _tcp_proxy(proxy_factory, listener.getsockname()[1])
    with _connect(proxy.port("tcp")) as sock:
        received = 0
        with pytest.raises(ConnectionResetError):
            while True:
                data = sock.recv(CHUNK)
                if not data:
                    break  # a clean FIN: pytest.raises fails the test
                received += len(data)
    listener.close()
    assert proxy.metric("skiff_tcp_resets_total", listener="tcp", origin="upstream") == 1


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("integrity-certs"))
    make_ca(d, "ca")
    make_leaf(d, "ca", "a", "spiffe://test.skiff.local/ns/default/sa/a")
    make_leaf(d, "ca", "b", "spiffe://test.skiff.local/ns/default/sa/b")
    return d


def test_tcp_through_two_sidecars_with_mutual_tls(proxy_factory, integrity_server, certs):
    """client -> A (plaintext in, mutual TLS out) -> B (mutual TLS in) -> upstream: half-close
    travels as close_notify + FIN across the TLS hop, in both directions."""
    server = integrity_server(rcvbuf=64 * 1024)
    b_listener = tcp_listener("up", name="in")
    b_listener["tls"] = {"mode": "STRICT"}
    b_config = bootstrap([b_listener], [cluster("up", [server.port])])
    b_config["identity"] = identity(certs, "b")
    b = proxy_factory(b_config)
    a_config = bootstrap([tcp_listener("b", name="out")], [cluster(
        "b", [b.port("in")],
        tls={"allowed_identities": ["spiffe://test.skiff.local/ns/default/sa/b"]})])
    a_config["identity"] = identity(certs, "a")
    a = proxy_factory(a_config)
    for size in SMALL_SIZES:
        echo_round_trip(a.port("out"), size, 40_000 + size)
    for run in range(max(RUNS // 2, 2)):
        echo_round_trip(a.port("out"), SIZE, 50_000 + run)
    for run in range(max(RUNS // 10, 2)):
        upstream_closes_first(a.port("out"), server, SIZE, 60_000 + 2 * run, upstream_delay_ms=1)
    assert _resets(a) == 0 and _resets(b) == 0


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 and HTTP/2 (curl), gRPC (grpcio), WebSocket (raw Upgrade)

def _curl(*args):
    out = subprocess.run(["curl", "-sS", "--max-time", "120", *args], capture_output=True)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


HTTP_SIZES = (0, 1, 65537, MB + 7, SIZE)


@pytest.fixture
def http_proxy(proxy_factory, upstream):
    return proxy_factory(simple_http_config(upstream.port))


@pytest.mark.parametrize("version", ["--http1.1", "--http2-prior-knowledge"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_http_uploads(http_proxy, tmp_path, version, framing):
    import json
    for size in HTTP_SIZES:
        body = payload(size, size)
        path = tmp_path / "body"
        path.write_bytes(body)
        extra = ["-H", "Transfer-Encoding: chunked"] if framing == "chunked" else []
        if framing == "chunked" and version != "--http1.1":
            extra = []  # HTTP/2 has no chunked framing: the upload streams in DATA frames
        echo = json.loads(_curl(version, "--data-binary", "@%s" % path, *extra,
                                http_proxy.url("/upload?read_delay_ms=1")))
        assert (echo["body_length"], echo["body_sha256"]) == (size, sha(body)), size


@pytest.mark.parametrize("version", ["--http1.1", "--http2-prior-knowledge"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_http_downloads_with_a_slow_reader(http_proxy, version, framing):
    for size in HTTP_SIZES:
        query = "size=%d%s" % (size, "&chunked=1" if framing == "chunked" else "")
        # --limit-rate makes curl the slow reader: the proxy must hold back, not drop.
        rate = ["--limit-rate", "50M"] if size >= MB else []
        body = _curl(version, *rate, http_proxy.url("/download?" + query))
        assert (len(body), sha(body)) == (size, upstreams.pattern_sha256(size)), size


def _grpc_proxy(proxy_factory, server_port):
    return proxy_factory(bootstrap(
        [http_listener([vhost([route("grpc", prefix="/test.Echo/")])])],
        [h2_cluster("grpc", [server_port])]))


def test_grpc_client_stream_to_a_slow_upstream(proxy_factory, grpc_server):
    proxy = _grpc_proxy(proxy_factory, grpc_server.port)
    messages = [payload(size, size) for size in (0, 1, 16_384, 65_537, 1_000_003)] * 8
    digest = hashlib.sha256(b"".join(messages)).hexdigest()
    with grpc_service.channel(proxy.port()) as ch:
        answer = grpc_service.stubs(ch)["ClientStream"](
            iter(messages), metadata=[("x-read-delay-ms", "2")], timeout=60)
    assert answer == b"%d %d %s" % (len(messages), sum(map(len, messages)), digest.encode())


def test_grpc_bidi_with_a_slow_client(proxy_factory, grpc_server):
    proxy = _grpc_proxy(proxy_factory, grpc_server.port)
    messages = [payload(size, 7 * size) for size in (1, 16_384, 65_537, 1_000_003)] * 10
    with grpc_service.channel(proxy.port()) as ch:
        replies = []
        for reply in grpc_service.stubs(ch)["Bidi"](iter(messages), timeout=60):
            replies.append(reply)
            time.sleep(0.005)  # a slow reader: flow control must hold the rest back
    assert [sha(m) for m in replies] == [sha(m) for m in messages]


def test_websocket_tunnel(http_proxy):
    for run in range(max(RUNS // 10, 2)):
        data = payload(SIZE, 70_000 + run)
        with RawConnection(http_proxy.port(), timeout=30) as conn:
            conn.send(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            assert conn.read_response().status == 101
            sock = conn.sock
            # Whatever read_response buffered past the head is the start of the echo.
            early = bytes(conn.buffer)
            result = {}

            def read():
                total, digest = len(early), hashlib.sha256(early)
                while True:
                    chunk = sock.recv(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    total += len(chunk)
                result["got"] = (total, digest.hexdigest())

            reader = threading.Thread(target=read)
            reader.start()
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            reader.join(60)
        assert result.get("got") == (SIZE, sha(data)), "run %d" % run
