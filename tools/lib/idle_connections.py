"""Memory per idle connection (tools/bench --connections N): for each proxy, open N keep-alive
connections, send one request on each, read its answer, leave them all open and idle, and
divide the growth of the proxy's RSS by N. Products alternate round by round (A, B, C, A, B,
C, ...), a fresh process each time, and the median is reported.

HTTP/1.1: skiff, HAProxy, nginx. HTTP/2 (h2c prior knowledge, one stream per connection):
skiff, HAProxy, nghttpx. The client keeps every socket in this process (the caller raises the
descriptor limit; children inherit it)."""

import socket
import statistics
import time

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# SETTINGS (empty), then HEADERS on stream 1 (END_STREAM|END_HEADERS) with a static-table-only
# HPACK block: :method GET (0x82), :scheme http (0x86), :path / (0x84), :authority "x".
H2_REQUEST = (b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
              b"\x00\x00\x06\x01\x05\x00\x00\x00\x01" + b"\x82\x86\x84\x41\x01x")


def _read_h1_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed inside the body")
        body += chunk


def _read_h2_response(sock):
    """Reads frames until one on stream 1 carries END_STREAM (ACKing the server's SETTINGS)."""
    buffered = b""
    while True:
        while len(buffered) < 9:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed before the response")
            buffered += chunk
        length = int.from_bytes(buffered[:3], "big")
        while len(buffered) < 9 + length:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed inside a frame")
            buffered += chunk
        kind, flags = buffered[3], buffered[4]
        stream = int.from_bytes(buffered[5:9], "big") & 0x7FFFFFFF
        buffered = buffered[9 + length:]
        if kind == 0x4 and not flags & 0x1:
            sock.sendall(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")  # SETTINGS ACK
        if stream == 1 and kind in (0x0, 0x1) and flags & 0x1:
            return


def open_idle(port, count, http2=False):
    """`count` connections to 127.0.0.1:port, one answered request each; returns the sockets."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sockets.append(sock)
        if http2:
            sock.sendall(H2_PREFACE + H2_REQUEST)
            _read_h2_response(sock)
        else:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _read_h1_response(sock)
    return sockets


def rss_kb(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def measure(start, stop, pids_of, port_of, count, http2=False):
    """Bytes of RSS per idle connection for one fresh process: start() returns a handle."""
    handle = start()
    try:
        pids = pids_of(handle)
        # A few connections first, so lazily built pools and the upstream connection count in
        # the baseline rather than in the per-connection figure.
        warm = open_idle(port_of(handle), 8, http2)
        time.sleep(0.3)
        before = rss_kb(pids)
        sockets = open_idle(port_of(handle), count, http2)
        time.sleep(1.0)  # let the proxy finish whatever it does after a response
        after = rss_kb(pids)
        for sock in sockets + warm:
            sock.close()
        return (after - before) * 1024.0 / count
    finally:
        stop(handle)


def run_rounds(products, rounds):
    """products: [(name, measure_fn)]; alternates them `rounds` times. Returns
    {name: [bytes per connection, ...]}."""
    results = {name: [] for name, _ in products}
    for _ in range(rounds):
        for name, fn in products:
            try:
                results[name].append(fn())
            except (RuntimeError, OSError) as e:
                results[name].append(None)
                print("==> %s failed: %s" % (name, e), flush=True)
    return results


def summarize(results):
    """{name: (median, min, max)} over the successful rounds."""
    out = {}
    for name, values in results.items():
        ok = [v for v in values if v is not None]
        out[name] = (statistics.median(ok), min(ok), max(ok)) if ok else None
    return out
