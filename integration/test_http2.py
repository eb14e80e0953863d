"""HTTP/2 (h2c with prior knowledge) on listeners and towards clusters: real clients (curl,
nghttp, h2load, python-h2), translation between HTTP/1.1 and HTTP/2 in both directions, flow
control, upstream multiplexing, protocol detection with TCP fallback, drain, and defences
against abusive HTTP/2 peers (raw frames).

Tests parametrized with "direct" run the same client against the HTTP/2 upstream without the
proxy: they check the test itself."""

import hashlib
import json
import signal
import socket
import socketserver
import subprocess
import threading
import time

import hpack
import pytest

import upstreams
from h2_upstream import H2Client
from harness import (H2_CONTINUATION, H2_DATA, H2_ENHANCE_YOUR_CALM, H2_END_HEADERS,
                     H2_END_STREAM, H2_GOAWAY, H2_HEADERS, H2_REFUSED_STREAM, H2_RST_STREAM,
                     H2_SETTINGS, H2_SETTINGS_MAX_CONCURRENT_STREAMS, RawConnection,
                     RawH2Connection, bootstrap, closed_port, cluster, curl, curl_h2, h2_cluster,
                     h2_frame, h2_get_headers, h2_ping, h2_rst_stream, h2_settings,
                     hpack_get_block, http_listener, route, simple_http_config, vhost)

MB = 1024 * 1024
RSS_GROWTH_LIMIT_KB = 16 * 1024


def _h2_config(upstream_port, h2_upstream=True, **listener_extra):
    make = h2_cluster if h2_upstream else cluster
    return bootstrap([http_listener([vhost([route("backend")])], **listener_extra)],
                     [make("backend", [upstream_port])])


@pytest.fixture
def h1_proxy(proxy_factory, upstream):
    """HTTP listener (codec AUTO) -> HTTP/1.1 echo upstream."""
    return proxy_factory(simple_http_config(upstream.port))


@pytest.fixture
def h2_proxy(proxy_factory, h2_upstream):
    """HTTP listener (codec AUTO) -> HTTP/2 echo upstream (cluster protocol HTTP2)."""
    return proxy_factory(_h2_config(h2_upstream.port))


@pytest.fixture(params=["direct", "proxy"])
def h2_target(request, proxy_factory, h2_upstream):
    """(port, proxy or None): an h2c endpoint in front of the HTTP/2 echo upstream."""
    if request.param == "direct":
        return h2_upstream.port, None
    proxy = proxy_factory(_h2_config(h2_upstream.port))
    return proxy.port(), proxy


def _curl_head_body(result):
    head, _, body = result.stdout_text.partition("\r\n\r\n")
    return head, body


def _h2_works(port):
    with H2Client(port, timeout=5) as client:
        response = client.request("GET", "/after")
    assert response.status == 200, response
    return response


def _wait(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# ---------------------------------------------------------------------------------------------
# Downstream HTTP/2 with real clients.

def test_curl_h2c_to_http1_upstream(h1_proxy, upstream):
    result = curl_h2(["-D", "-", h1_proxy.url("/h2/path?q=1"), "-H", "x-test: yes"])
    head, body = _curl_head_body(result)
    assert head.startswith("HTTP/2 200"), head
    echo = json.loads(body)
    assert echo["path"] == "/h2/path?q=1"
    assert echo["method"] == "GET"
    assert echo["request_version"] == "HTTP/1.1"
    headers = {k.lower(): v for k, v in echo["headers"]}
    assert headers["x-test"] == "yes"
    assert headers["host"] == "127.0.0.1:%d" % h1_proxy.port(), headers
    assert headers.get("x-request-id"), headers
    assert headers.get("x-forwarded-for") == "127.0.0.1"
    assert headers.get("x-forwarded-proto") == "http"
    assert not any(k.startswith(":") for k in headers), headers


def test_curl_h2c_post_body_to_http1_upstream(h1_proxy, tmp_path):
    body = bytes(range(256)) * 4096  # 1 MiB
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    result = curl_h2(["--data-binary", "@%s" % path, h1_proxy.url("/upload")])
    echo = json.loads(result.stdout_text)
    assert echo["method"] == "POST"
    assert echo["body_length"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_http1_and_h2c_share_the_port(h1_proxy):
    with RawConnection(h1_proxy.port()) as conn:
        conn.send(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        response = conn.read_response()
    assert response.status == 200 and response.version == "HTTP/1.1"
    response = _h2_works(h1_proxy.port())
    assert response.json()["path"] == "/after"


def test_codec_type_http2_only_rejects_http1(proxy_factory, upstream):
    proxy = proxy_factory(simple_http_config(upstream.port, codec_type="HTTP2"))
    _h2_works(proxy.port())
    with RawConnection(proxy.port(), timeout=3) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = conn.sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
    assert not data.startswith(b"HTTP/1.1 200"), data
    assert upstream.paths() == ["/after"]


def test_codec_type_http1_only_rejects_h2_preface(proxy_factory, upstream):
    proxy = proxy_factory(simple_http_config(upstream.port, codec_type="HTTP1"))
    with RawConnection(proxy.port()) as conn:
        conn.send(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().status == 200
    with RawH2Connection(proxy.port(), timeout=3) as conn:
        conn.send(h2_get_headers(1))
        try:
            data = conn.sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
    # Whatever comes back is not an HTTP/2 SETTINGS frame (an HTTP/1.1 error or a close).
    assert not (len(data) >= 9 and data[3] == H2_SETTINGS), data[:40]
    assert upstream.paths() == ["/one"]


def test_nghttp_prior_knowledge(h2_target):
    port, _ = h2_target
    # nghttp speaks h2c with prior knowledge for http:// URLs unless -u (upgrade) is given.
    result = subprocess.run(["nghttp", "-v", "http://127.0.0.1:%d/nghttp" % port],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ":status: 200" in result.stdout, result.stdout[-2000:]
    assert '"path": "/nghttp"' in result.stdout


@pytest.mark.parametrize("upstream_protocol", ["HTTP1", "HTTP2"])
def test_h2load_1000_requests_all_succeed(proxy_factory, upstream, h2_upstream,
                                          upstream_protocol):
    if upstream_protocol == "HTTP2":
        proxy = proxy_factory(_h2_config(h2_upstream.port))
    else:
        proxy = proxy_factory(simple_http_config(upstream.port))
    result = subprocess.run(["h2load", "-n", "1000", "-c", "4", "-m", "10", proxy.url("/load")],
                            capture_output=True, text=True, timeout=120)
    assert "1000 succeeded, 0 failed" in result.stdout, result.stdout[-2000:]
    assert "status codes: 1000 2xx" in result.stdout, result.stdout[-2000:]
    assert "Application protocol: h2c" in result.stdout
    assert proxy.metric("skiff_downstream_requests_total", listener="http", code="200") >= 1000
    if upstream_protocol == "HTTP2":
        connections = proxy.metric("skiff_upstream_connections_total", cluster="backend")
        assert connections <= 4, "%d upstream h2 connections for 4x10 streams" % connections
        assert h2_upstream.connections_accepted <= 4


def test_many_streams_on_one_connection(h2_target):
    port, _ = h2_target
    with H2Client(port) as client:
        ids = [client.start_request("GET", "/s%d?sleep=0.3" % i) for i in range(30)]
        start = time.monotonic()
        responses = [client.response(i) for i in ids]
        elapsed = time.monotonic() - start
    assert [r.status for r in responses] == [200] * 30
    assert [r.json()["path"] for r in responses] == ["/s%d?sleep=0.3" % i for i in range(30)]
    assert elapsed < 3.0, "30 concurrent 0.3 s streams took %.1fs (serialized?)" % elapsed


# ---------------------------------------------------------------------------------------------
# Translation.

def test_http1_client_to_h2_upstream(h2_proxy, h2_upstream):
    body = b"z" * 300_000
    with RawConnection(h2_proxy.port()) as conn:
        conn.send(b"POST /up?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Custom: a\r\n"
                  b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: %d\r\n"
                  b"\r\n" % len(body) + body)
        response = conn.read_response()
        assert response.status == 200, response
        echo = response.json()
        # The same connection keeps working for the next request (chunked upload this time).
        conn.send(b"POST /chunked HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked"
                  b"\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        second = conn.read_response()
    assert echo["protocol"] == "HTTP/2"
    assert echo["method"] == "POST"
    assert echo["path"] == "/up?x=1"
    assert echo["authority"] == "example.com"
    assert echo["scheme"] == "http"
    assert echo["body_length"] == len(body)
    headers = {k: v for k, v in echo["headers"]}
    assert headers.get("x-custom") == "a"
    assert headers.get("x-forwarded-for") == "127.0.0.1"
    for hop in ("connection", "keep-alive", "transfer-encoding", "host"):
        assert hop not in headers, "%s forwarded to an HTTP/2 upstream: %s" % (hop, headers)
    assert second.status == 200
    assert second.json()["body_length"] == 11
    assert second.json()["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()


def test_http1_client_download_from_h2_upstream(h2_proxy):
    total = 5 * MB
    with RawConnection(h2_proxy.port(), timeout=30) as conn:
        conn.send(b"GET /dl?size=%d&status=203&set_header=x-extra:1 HTTP/1.1\r\nHost: x\r\n\r\n"
                  % total)
        response = conn.read_response()
    assert response.status == 203
    assert response.header("x-extra") == "1"
    assert len(response.body) == total
    assert hashlib.sha256(response.body).hexdigest() == upstreams.pattern_sha256(total)


def test_h2_trailers_pass_through(h2_target):
    port, _ = h2_target
    with H2Client(port) as client:
        response = client.request("GET", "/t?trailer=x-checksum:abc&trailer=x-more:2")
    assert response.status == 200
    assert response.trailer("x-checksum") == "abc", response.trailers
    assert response.trailer("x-more") == "2", response.trailers


def test_http1_client_gets_h2_upstream_trailers_chunked(h2_proxy):
    with RawConnection(h2_proxy.port()) as conn:
        conn.send(b"GET /t?trailer=x-checksum:abc HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
        head = conn.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"chunked" in head.lower(), head
        # Body chunks, then the trailer section.
        rest = conn.read_until(b"0\r\n")
        tail = conn.read_until(b"\r\n\r\n")
    assert b"x-checksum: abc" in tail.lower(), (rest[-100:], tail)


def test_h2_client_reset_cancels_upstream_stream(h2_target, h2_upstream):
    port, _ = h2_target
    with H2Client(port) as client:
        stream_id = client.start_request("GET", "/slow?sleep=5")
        assert _wait(lambda: h2_upstream.active == 1)
        client.conn.reset_stream(stream_id)
        client._flush()
        assert _wait(lambda: any(p == "/slow?sleep=5" for p, _, _ in h2_upstream.resets)), (
            "the upstream stream was not reset after the client reset its stream")
        # The connection is still usable.
        assert client.request("GET", "/next").status == 200


def test_upstream_goaway_lets_streams_finish_and_moves_new_requests(h2_proxy, h2_upstream):
    """The upstream sends a graceful GOAWAY while a slow stream is in flight on the same
    connection: that stream still completes there, and the next request goes to a new
    connection instead of being refused."""
    import http.client
    import threading

    def get(path):
        conn = http.client.HTTPConnection("127.0.0.1", h2_proxy.port(), timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    slow = {}
    thread = threading.Thread(target=lambda: slow.update(result=get("/slow?sleep=0.7")))
    thread.start()
    assert _wait(lambda: h2_upstream.active == 1)
    status, bye = get("/bye?goaway=1")
    assert status == 200, bye
    thread.join(10)
    slow_status, slow_body = slow["result"]
    assert slow_status == 200
    assert slow_body["connection"] == bye["connection"], (slow_body, bye)
    status, after = get("/after")
    assert status == 200
    assert after["connection"] != bye["connection"], (after, bye)
    assert h2_proxy.metric("skiff_upstream_connections_total", cluster="backend") >= 2


def test_upstream_h2_pool_multiplexes_http1_clients(h2_proxy, h2_upstream):
    """50 concurrent HTTP/1.1 clients become streams on few upstream HTTP/2 connections."""
    results = []

    def one(i):
        with RawConnection(h2_proxy.port(), timeout=20) as conn:
            conn.send(b"GET /m%d?sleep=0.5 HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            results.append(conn.read_response().status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 50
    assert h2_upstream.max_active >= 20, "upstream saw only %d concurrent streams" % (
        h2_upstream.max_active)
    connections = h2_proxy.metric("skiff_upstream_connections_total", cluster="backend")
    assert connections <= 4, "%d upstream connections for 50 concurrent requests" % connections
    assert h2_upstream.connections_accepted <= 4


# ---------------------------------------------------------------------------------------------
# Routing, local replies, stats, access log over HTTP/2.

def test_routing_over_h2(proxy_factory, http_upstream_factory, h2_upstream_factory):
    one = http_upstream_factory("one")
    two = h2_upstream_factory("two")
    routes = [
        {"match": {"prefix": "/api", "headers": [{"name": "x-version", "exact_match": "2"}]},
         "route": {"cluster": "two", "prefix_rewrite": "/v2"}},
        {"match": {"prefix": "/api"}, "route": {"cluster": "one"}},
    ]
    config = bootstrap([http_listener([vhost(routes, domains=["svc.local"])])],
                       [cluster("one", [one.port]), h2_cluster("two", [two.port])])
    proxy = proxy_factory(config)
    with H2Client(proxy.port()) as client:
        a = client.request("GET", "/api/x", authority="svc.local")
        b = client.request("GET", "/api/x", authority="svc.local", headers=[("x-version", "2")])
        c = client.request("GET", "/api/x", authority="other.local")
    assert a.status == 200 and a.header("x-upstream-name") == "one"
    assert b.status == 200 and b.header("x-upstream-name") == "two"
    assert b.json()["path"] == "/v2/x"
    assert c.status == 404 and c.header("x-skiff-flags") == "NR", c


def test_local_replies_over_h2(proxy_factory, upstream):
    routes = [route("down", prefix="/down"), route("backend", prefix="/slow", timeout="0.3s"),
              route("backend", prefix="/ok")]
    config = bootstrap([http_listener([vhost(routes, domains=["x"])])],
                       [cluster("down", [closed_port()]), cluster("backend", [upstream.port])])
    proxy = proxy_factory(config)
    with H2Client(proxy.port()) as client:
        down = client.request("GET", "/down")
        slow = client.request("GET", "/slow?sleep=3")
        none = client.request("GET", "/nothing")
        ok = client.request("GET", "/ok")
    assert (down.status, down.header("x-skiff-flags")) == (503, "UF"), down
    assert (slow.status, slow.header("x-skiff-flags")) == (504, "UT"), slow
    assert (none.status, none.header("x-skiff-flags")) == (404, "NR"), none
    assert ok.status == 200
    for r in (down, slow, none):
        assert r.ended and r.reset_code is None


def test_stats_and_access_log_over_h2(proxy_factory, upstream, tmp_path):
    log_path = tmp_path / "access.log"
    proxy = proxy_factory(simple_http_config(upstream.port,
                                             access_log={"path": str(log_path)}))
    with H2Client(proxy.port()) as client:
        assert client.request("POST", "/logged", body=b"12345").status == 200
        assert client.request("GET", "/logged?status=418").status == 418
    assert _wait(lambda: log_path.exists() and len(log_path.read_text().splitlines()) >= 2)
    entries = [json.loads(l) for l in log_path.read_text().splitlines()]
    assert [e["protocol"] for e in entries] == ["HTTP/2", "HTTP/2"]
    assert [int(e["status"]) for e in entries] == [200, 418]
    assert entries[0]["method"] == "POST" and entries[0]["path"] == "/logged"
    assert int(entries[0]["bytes_received"]) == 5
    assert entries[0]["authority"] == "x"
    assert entries[0]["upstream_cluster"] == "backend"
    assert proxy.metric("skiff_downstream_requests_total", listener="http", code="418") == 1
    assert proxy.metric("skiff_downstream_requests_total", listener="http", code="200") >= 1
    assert proxy.metric("skiff_downstream_connections_total", listener="http") >= 1
    assert proxy.metric("skiff_upstream_requests_total", cluster="backend") >= 2


# ---------------------------------------------------------------------------------------------
# Flow control and memory.

def _warm_up(port):
    _h2_works(port)


@pytest.mark.parametrize("upstream_protocol", ["HTTP1", "HTTP2"])
def test_h2_download_50mb_slow_reader_bounded_memory(proxy_factory, upstream, h2_upstream,
                                                     upstream_protocol):
    port = h2_upstream.port if upstream_protocol == "HTTP2" else upstream.port
    proxy = proxy_factory(_h2_config(port, h2_upstream=upstream_protocol == "HTTP2"))
    _warm_up(proxy.port())
    hwm_before = proxy.hwm_kb()
    total = 50 * MB
    with H2Client(proxy.port(), timeout=60, rcvbuf=64 * 1024, auto_window=False) as client:
        stream_id = client.start_request("GET", "/download?size=%d" % total)
        # Return no window for a while: the upstream writes as fast as it can.
        time.sleep(0.7)
        response = client.responses[stream_id]
        client.read_until(lambda: response.status is not None)
        digest = hashlib.sha256()
        received = 0
        while not response.ended:
            client.consume()
            client._read_once()
            if response.reset_code is not None:
                break
            if len(response.body) > MB:
                digest.update(response.body)
                received += len(response.body)
                response.body = bytearray()
        digest.update(response.body)
        received += len(response.body)
    assert response.status == 200 and response.reset_code is None
    assert received == total
    assert digest.hexdigest() == upstreams.pattern_sha256(total)
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB for a 50 MB download" % growth


@pytest.mark.parametrize("upstream_protocol", ["HTTP1", "HTTP2"])
def test_h2_upload_40mb_to_slow_upstream_bounded_memory(proxy_factory, upstream, h2_upstream,
                                                        upstream_protocol):
    port = h2_upstream.port if upstream_protocol == "HTTP2" else upstream.port
    proxy = proxy_factory(_h2_config(port, h2_upstream=upstream_protocol == "HTTP2"))
    _warm_up(proxy.port())
    hwm_before = proxy.hwm_kb()
    total = 40 * MB
    piece = bytes(range(256)) * 256  # 64 KiB
    digest = hashlib.sha256()
    with H2Client(proxy.port(), timeout=60) as client:
        stream_id = client.start_request("POST", "/upload?read_delay_ms=2", end_stream=False)
        for _ in range(total // len(piece)):
            client.send_body(stream_id, piece, end_stream=False)
            digest.update(piece)
        client.conn.end_stream(stream_id)
        client._flush()
        response = client.response(stream_id, timeout=60)
    assert response.status == 200, response
    echo = response.json()
    assert echo["body_length"] == total
    assert echo["body_sha256"] == digest.hexdigest()
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB for a 40 MB upload" % growth


def test_listener_advertises_http2_settings(proxy_factory, upstream):
    proxy = proxy_factory(simple_http_config(upstream.port, http2={
        "max_concurrent_streams": 5, "initial_stream_window_size": 128 * 1024,
        "initial_connection_window_size": 2 * MB}))
    with RawH2Connection(proxy.port()) as conn:
        frame = conn.read_frames_until(lambda f: f[0] == H2_SETTINGS and not f[1] & 1)
        assert frame is not None
        payload = frame[3]
        settings = {int.from_bytes(payload[i:i + 2], "big"):
                    int.from_bytes(payload[i + 2:i + 6], "big")
                    for i in range(0, len(payload), 6)}
        assert settings.get(H2_SETTINGS_MAX_CONCURRENT_STREAMS) == 5, settings
        assert settings.get(0x4) == 128 * 1024, settings
        # The connection window is opened with a WINDOW_UPDATE on stream 0.
        update = conn.read_frames_until(lambda f: f[0] == 0x8 and f[2] == 0, timeout=2)
        assert update is not None
        assert int.from_bytes(update[3], "big") + 65535 == 2 * MB


# ---------------------------------------------------------------------------------------------
# Defences against abusive peers. After each, the proxy is alive and serves a normal request.

def _still_serving(proxy):
    assert proxy.process.poll() is None, "skiff-proxy died:\n" + proxy.stderr()[-3000:]
    _h2_works(proxy.port())
    with RawConnection(proxy.port()) as conn:
        conn.send(b"GET /h1-after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().status == 200


def _send_ignoring_close(conn, data):
    try:
        conn.send(data)
        return True
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        return False


def test_rapid_reset_gets_goaway_enhance_your_calm(h1_proxy):
    proxy = h1_proxy
    _warm_up(proxy.port())
    with RawH2Connection(proxy.port(), timeout=10) as conn:
        batch = b"".join(h2_get_headers(sid, "/?sleep=1") + h2_rst_stream(sid)
                         for sid in range(1, 4001, 2))
        _send_ignoring_close(conn, batch)
        frame = conn.read_frames_until(lambda f: f[0] == H2_GOAWAY, timeout=10)
        goaway = conn.goaway()
        assert goaway is not None, "no GOAWAY after 2000 HEADERS+RST_STREAM pairs; frames: %s" % (
            [f[:3] for f in conn.frames[:20]])
        assert goaway[1] == H2_ENHANCE_YOUR_CALM, "GOAWAY error code %#x" % goaway[1]
        assert frame is not None
        assert conn.read_frames_until(lambda f: False, timeout=5) is None, "not closed"
    _still_serving(proxy)


def test_continuation_flood_closes_connection(h1_proxy):
    proxy = h1_proxy
    _warm_up(proxy.port())
    hwm_before = proxy.hwm_kb()
    # A header literal of ~16 KB per CONTINUATION frame: "x-flood: aaaa..." (literal without
    # indexing, new name, raw strings).
    value = b"a" * 16000
    literal = b"\x00\x07x-flood" + b"\x7f" + _hpack_int_tail(len(value) - 127) + value
    with RawH2Connection(proxy.port(), timeout=10) as conn:
        conn.send(h2_frame(H2_HEADERS, H2_END_STREAM, 1, hpack_get_block()))
        sent = 0
        for _ in range(3000):  # ~48 MB of header block, never ended
            if not _send_ignoring_close(conn, h2_frame(H2_CONTINUATION, 0, 1, literal)):
                break
            sent += 1
        closed = conn.read_frames_until(lambda f: False, timeout=5) is None
        goaway = conn.goaway()
    assert closed or goaway is not None, (
        "connection neither closed nor got GOAWAY after %d CONTINUATION frames" % sent)
    assert sent < 3000 or closed, "the proxy read 48 MB of one header block"
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB in a CONTINUATION flood" % growth
    _still_serving(proxy)


def _hpack_int_tail(n):
    """The continuation bytes of an HPACK integer after a full prefix."""
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _status_of_headers(decoder, payload):
    headers = decoder.decode(payload)
    return dict((k.decode() if isinstance(k, bytes) else k,
                 v.decode() if isinstance(v, bytes) else v) for k, v in headers).get(":status")


def test_hpack_bomb_rejected(h1_proxy, upstream):
    proxy = h1_proxy
    _warm_up(proxy.port())
    hwm_before = proxy.hwm_kb()
    # One 4000-byte header inserted into the dynamic table (literal with incremental indexing),
    # then referenced 12,000 times by its one-byte index (62): a 16 KB block that decodes to
    # about 48 MB of headers.
    value = b"b" * 4000
    insert = b"\x40\x06x-bomb" + b"\x7f" + _hpack_int_tail(len(value) - 127) + value
    block = hpack_get_block("/bomb") + insert + b"\xbe" * 12000
    decoder = hpack.Decoder()
    decoder.max_allowed_table_size = 65536
    with RawH2Connection(proxy.port(), timeout=10) as conn:
        conn.send(h2_frame(H2_HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, block))
        outcome = None
        while outcome is None:
            frame = conn.read_frames_until(lambda f: f[2] == 1 or f[0] == H2_GOAWAY, timeout=10)
            if frame is None:
                outcome = "closed"
            elif frame[0] == H2_RST_STREAM:
                outcome = "reset"
            elif frame[0] == H2_GOAWAY:
                outcome = "goaway"
            elif frame[0] == H2_HEADERS:
                outcome = _status_of_headers(decoder, frame[3])
        assert outcome in ("reset", "goaway", "closed", "431"), "stream 1 got %r" % outcome
        if outcome in ("reset", "431"):
            # The connection survived: it still serves a normal stream. The HPACK state is
            # shared, so the proxy's decoder must have kept up with the block it rejected.
            conn.send(h2_frame(H2_HEADERS, H2_END_STREAM | H2_END_HEADERS, 3,
                               hpack_get_block("/after-bomb")))
            frame = conn.read_frames_until(lambda f: f[2] == 3 and f[0] in (H2_HEADERS,
                                                                           H2_RST_STREAM))
            assert frame is not None and frame[0] == H2_HEADERS, frame
            assert _status_of_headers(decoder, frame[3]) == "200"
    assert "/bomb" not in upstream.paths()
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB for an HPACK bomb" % growth
    _still_serving(proxy)


def test_ping_flood_without_reading(h1_proxy):
    proxy = h1_proxy
    _warm_up(proxy.port())
    hwm_before = proxy.hwm_kb()
    pings = h2_ping() * 10000
    with RawH2Connection(proxy.port(), timeout=2, rcvbuf=4096, sndbuf=65536) as conn:
        deadline = time.monotonic() + 10
        sent = 0
        # Never read: the PING ACKs pile up on the proxy's side.
        while time.monotonic() < deadline and sent < 50:
            if not _send_ignoring_close(conn, pings):
                break
            sent += 1
        frame = conn.read_frames_until(
            lambda f: f[0] == H2_GOAWAY and int.from_bytes(f[3][4:8], "big") != 0, timeout=10)
        goaway = conn.goaway()
        closed = frame is None and conn.read_frames_until(lambda f: False, timeout=3) is None
    assert closed or (goaway is not None and goaway[1] == H2_ENHANCE_YOUR_CALM), (
        "after %d PINGs: goaway %r, closed %r" % (sent * 10000, goaway, closed))
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB in a PING flood" % growth
    _still_serving(proxy)


def _open_ten_streams(proxy, ack_settings):
    decoder = hpack.Decoder()
    with RawH2Connection(proxy.port(), timeout=10) as conn:
        conn.auto_ack = ack_settings
        # Wait for the server's SETTINGS before opening streams, so the limit is known.
        assert conn.read_frames_until(lambda f: f[0] == H2_SETTINGS and not f[1] & 1)
        if ack_settings:
            # ... and for the ACK of ours, so both sides are settled.
            conn.read_frames_until(lambda f: f[0] == H2_SETTINGS and f[1] & 1)
        conn.send(b"".join(h2_get_headers(sid, "/c?sleep=1") for sid in range(1, 21, 2)))
        results = {}

        def settled(frame):
            frame_type, flags, sid, payload = frame
            if frame_type == H2_HEADERS:
                results.setdefault(sid, _status_of_headers(decoder, payload))
            elif frame_type == H2_RST_STREAM:
                results[sid] = "RST %d" % int.from_bytes(payload, "big")
            return len(results) == 10

        done = conn.read_frames_until(settled, timeout=15)
        assert done, "connection closed; results %s, GOAWAY %s" % (results, conn.goaway())
    return results


def test_excess_concurrent_streams_refused_before_the_limit_is_acknowledged(proxy_factory,
                                                                           upstream):
    """max_concurrent_streams 5, sent before the client has acknowledged our SETTINGS (it could
    not know the limit yet): the excess streams get RST_STREAM REFUSED_STREAM, which a client can
    retry, and the first five are served."""
    proxy = proxy_factory(simple_http_config(upstream.port, http2={"max_concurrent_streams": 5}))
    results = _open_ten_streams(proxy, ack_settings=False)
    refused = sorted(sid for sid, r in results.items() if r == "RST %d" % H2_REFUSED_STREAM)
    ok = sorted(sid for sid, r in results.items() if r == "200")
    assert refused == [11, 13, 15, 17, 19], results
    assert ok == [1, 3, 5, 7, 9], results
    _still_serving(proxy)


def test_excess_concurrent_streams_after_acknowledging_the_limit_end_the_connection(
        proxy_factory, upstream):
    """A client that acknowledged max_concurrent_streams 5 and still opens ten streams breaks the
    protocol on purpose. Like nghttp2 (and so nghttpx, Apache's mod_http2, curl's servers), the
    proxy treats that as a connection error: GOAWAY PROTOCOL_ERROR naming the last stream it
    accepted, then close (RFC 9113 5.4.1). The proxy stays healthy for everyone else."""
    proxy = proxy_factory(simple_http_config(upstream.port, http2={"max_concurrent_streams": 5}))
    with RawH2Connection(proxy.port(), timeout=10) as conn:
        conn.auto_ack = True
        assert conn.read_frames_until(lambda f: f[0] == H2_SETTINGS and not f[1] & 1)
        conn.read_frames_until(lambda f: f[0] == H2_SETTINGS and f[1] & 1)
        conn.send(b"".join(h2_get_headers(sid, "/c?sleep=1") for sid in range(1, 21, 2)))
        conn.read_frames_until(lambda f: False, timeout=5)
        goaway = conn.goaway()
    assert goaway is not None, "no GOAWAY"
    last_stream_id, error_code = goaway
    assert error_code == 1, goaway  # PROTOCOL_ERROR
    assert last_stream_id <= 9, goaway
    _still_serving(proxy)


# ---------------------------------------------------------------------------------------------
# Drain.

def test_sigterm_drains_h2_streams(proxy_factory, upstream):
    config = simple_http_config(upstream.port)
    config["drain_timeout"] = "5s"
    proxy = proxy_factory(config)
    with H2Client(proxy.port(), timeout=10) as client:
        ids = [client.start_request("GET", "/drain%d?sleep=1" % i) for i in range(5)]
        assert _wait(lambda: upstream.active == 5), upstream.active
        start = time.monotonic()
        proxy.signal(signal.SIGTERM)
        responses = [client.response(i, timeout=8) for i in ids]
        client.read_until(lambda: client.goaway is not None, timeout=5)
        goaway = client.goaway
    assert [r.status for r in responses] == [200] * 5, responses
    assert goaway is not None and int(goaway[0]) == 0, goaway
    code = proxy.process.wait(8)
    assert code == 0
    assert time.monotonic() - start < 5.0


# ---------------------------------------------------------------------------------------------
# Protocol detection with TCP fallback.

class _GreetingServer(socketserver.ThreadingTCPServer):
    """Speaks first (like SMTP): sends a greeting, then echoes."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    self.request.sendall(b"220 greetings\r\n")
                    while True:
                        data = self.request.recv(65536)
                        if not data:
                            return
                        self.request.sendall(data)
                except OSError:
                    pass
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self):
        return self.server_address[1]


@pytest.fixture
def greeting_server():
    server = _GreetingServer()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _fallback_proxy(proxy_factory, http_port, tcp_port, timeout="0.1s"):
    listener = http_listener([vhost([route("backend")])])
    listener["tcp_fallback"] = {"cluster": "tcp"}
    listener["protocol_detection_timeout"] = timeout
    return proxy_factory(bootstrap([listener], [cluster("backend", [http_port]),
                                                cluster("tcp", [tcp_port])]))


def test_tcp_fallback_for_non_http_bytes(proxy_factory, upstream, tcp_upstream_factory):
    echo = tcp_upstream_factory("echo")
    proxy = _fallback_proxy(proxy_factory, upstream.port, echo.port)
    message = b"\x16\x03\x01\x00\x05hello not http\x00\xff"
    with socket.create_connection(("127.0.0.1", proxy.port()), timeout=5) as sock:
        sock.sendall(message)
        received = b""
        while len(received) < len(message):
            data = sock.recv(4096)
            assert data, "closed"
            received += data
    assert received == message
    # HTTP/1.1 and HTTP/2 on the same port are still routed as HTTP.
    with RawConnection(proxy.port()) as conn:
        conn.send(b"GET /h1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().status == 200
    assert _h2_works(proxy.port()).json()["path"] == "/after"
    assert upstream.paths() == ["/h1", "/after"]


def test_tcp_fallback_server_speaks_first(proxy_factory, upstream, greeting_server):
    proxy = _fallback_proxy(proxy_factory, upstream.port, greeting_server.port, timeout="0.1s")
    with socket.create_connection(("127.0.0.1", proxy.port()), timeout=5) as sock:
        start = time.monotonic()
        greeting = sock.recv(100)
        elapsed = time.monotonic() - start
        assert greeting == b"220 greetings\r\n"
        sock.sendall(b"EHLO x\r\n")
        assert sock.recv(100) == b"EHLO x\r\n"
    assert elapsed < 0.5, "greeting after %.2fs with a 0.1 s detection timeout" % elapsed
    assert elapsed >= 0.08, "fell back before the detection timeout (%.3fs)" % elapsed


def test_tcp_fallback_default_detection_timeout(proxy_factory, upstream, greeting_server):
    listener = http_listener([vhost([route("backend")])])
    listener["tcp_fallback"] = {"cluster": "tcp"}
    proxy = proxy_factory(bootstrap([listener], [cluster("backend", [upstream.port]),
                                                 cluster("tcp", [greeting_server.port])]))
    with socket.create_connection(("127.0.0.1", proxy.port()), timeout=5) as sock:
        start = time.monotonic()
        assert sock.recv(100) == b"220 greetings\r\n"
        assert time.monotonic() - start < 0.5


def test_without_fallback_silent_connection_is_not_piped(h1_proxy):
    """Without tcp_fallback a silent client just waits; a non-HTTP client gets an error."""
    with RawConnection(h1_proxy.port(), timeout=0.5) as conn:
        try:
            data = conn.sock.recv(100)
        except socket.timeout:
            data = None
        assert data is None


@pytest.mark.parametrize("upstream_protocol", ["HTTP1", "HTTP2"])
def test_client_disconnect_with_streams_in_flight(proxy_factory, upstream, h2_upstream,
                                                  upstream_protocol):
    """h2load closes its connections with streams in flight when a timed run ends; the proxy
    must abandon those upstream requests cleanly (no crash) and keep serving."""
    port = h2_upstream.port if upstream_protocol == "HTTP2" else upstream.port
    proxy = proxy_factory(_h2_config(port, h2_upstream=upstream_protocol == "HTTP2"))
    for round_ in range(5):
        clients = []
        for _ in range(4):
            client = H2Client(proxy.port())
            for i in range(20):
                client.start_request("GET", "/inflight%d?sleep=0.%d" % (i, round_ % 3))
            clients.append(client)
        time.sleep(0.05 * round_)
        for client in clients:
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   b"\x01\x00\x00\x00\x00\x00\x00\x00")  # close with RST
            client.close()
    time.sleep(1.0)
    _still_serving(proxy)
    result = subprocess.run(["h2load", "-c16", "-m10", "-D", "2", proxy.url("/")],
                            capture_output=True, text=True, timeout=60)
    time.sleep(0.5)
    assert proxy.process.poll() is None, "skiff-proxy exited %s after h2load -D stopped" % (
        proxy.process.returncode)
    assert " 0 failed" in result.stdout, result.stdout[-1500:]
    _still_serving(proxy)
