"""The L4 tcp_proxy listener."""

import hashlib
import os
import socket
import time

import upstreams
from harness import bootstrap, cluster, tcp_listener

MB = 1024 * 1024


def _tcp_proxy(proxy_factory, upstream_port, **extra):
    config = bootstrap([tcp_listener("echo", **extra)], [cluster("echo", [upstream_port])])
    return proxy_factory(config)


def _connect(port, rcvbuf=None, timeout=10):
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def _read_all(sock):
    chunks = []
    while True:
        data = sock.recv(262144)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def test_echo_through_tcp_listener(proxy_factory, tcp_upstream_factory):
    upstream = tcp_upstream_factory("echo")
    proxy = _tcp_proxy(proxy_factory, upstream.port)
    with _connect(proxy.port("tcp")) as sock:
        for message in (b"hello\n", os.urandom(100_000)):
            sock.sendall(message)
            received = b""
            while len(received) < len(message):
                data = sock.recv(65536)
                assert data, "connection closed early"
                received += data
            assert received == message
    assert upstream.connections_accepted == 1
    assert proxy.metric("skiff_downstream_connections_total", listener="tcp") >= 1


def test_half_close_still_delivers_the_reply(proxy_factory, tcp_upstream_factory):
    # This upstream answers only after it has seen the client's FIN, so a proxy that tears
    # down both directions on the first FIN delivers nothing.
    upstream = tcp_upstream_factory("after_eof")
    proxy = _tcp_proxy(proxy_factory, upstream.port)
    payload = os.urandom(3 * MB)
    with _connect(proxy.port("tcp")) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        received = _read_all(sock)
    assert len(received) == len(payload)
    assert received == payload


def test_upstream_refused_closes_downstream(proxy_factory):
    from harness import closed_port
    proxy = _tcp_proxy(proxy_factory, closed_port())
    with _connect(proxy.port("tcp"), timeout=3) as sock:
        try:
            data = sock.recv(10)
        except ConnectionResetError:
            data = b""
        assert data == b""


def test_slow_reader_does_not_make_the_proxy_buffer(proxy_factory, tcp_upstream_factory):
    total = 200 * MB
    upstream = tcp_upstream_factory("firehose", size=total)
    proxy = _tcp_proxy(proxy_factory, upstream.port)
    hwm_before = proxy.hwm_kb()
    with _connect(proxy.port("tcp"), rcvbuf=64 * 1024, timeout=60) as sock:
        # Read nothing for a while: the upstream can write far faster than this client reads.
        time.sleep(1.5)
        stalled_growth = proxy.hwm_kb() - hwm_before
        digest = hashlib.sha256()
        received = 0
        while True:
            data = sock.recv(262144)
            if not data:
                break
            digest.update(data)
            received += len(data)
    assert received == total
    assert digest.hexdigest() == upstreams.pattern_sha256(total)
    growth = proxy.hwm_kb() - hwm_before
    assert stalled_growth < 16 * 1024, "RSS grew %d kB while the client did not read" % (
        stalled_growth)
    assert growth < 16 * 1024, "peak RSS grew %d kB moving 200 MB" % growth


def test_tcp_access_log(proxy_factory, tcp_upstream_factory, tmp_path):
    import json
    upstream = tcp_upstream_factory("echo")
    log_path = tmp_path / "tcp_access.log"
    proxy = _tcp_proxy(proxy_factory, upstream.port, access_log={"path": str(log_path)})
    with _connect(proxy.port("tcp")) as sock:
        sock.sendall(b"x" * 1000)
        sock.shutdown(socket.SHUT_WR)
        assert len(_read_all(sock)) == 1000
    deadline = time.monotonic() + 3
    lines = []
    while time.monotonic() < deadline and not lines:
        if log_path.exists():
            lines = [l for l in log_path.read_text().splitlines() if l.strip()]
        time.sleep(0.05)
    assert len(lines) == 1, lines
    entry = json.loads(lines[0])
    assert entry["upstream_cluster"] == "echo"
    assert entry["upstream_host"] == "127.0.0.1:%d" % upstream.port
    assert int(entry["bytes_received"]) == 1000 and int(entry["bytes_sent"]) == 1000
