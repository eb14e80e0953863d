"""gRPC through the proxy: client (grpcio) -> skiff-proxy (h2c) -> gRPC server (grpcio).

The pass-through tests run twice: "direct" (client straight to the server, which checks the test
itself) and "proxy". The tests of replies the proxy makes itself run only through the proxy."""

import hashlib
import threading
import time

import grpc
import pytest

import grpc_service
from grpc_service import all_metadata, channel, pattern_bytes, stubs
from harness import bootstrap, closed_port, h2_cluster, http_listener, route, vhost

MB = 1024 * 1024
RSS_GROWTH_LIMIT_KB = 16 * 1024


def grpc_proxy_config(server_port, route_extra=None, cluster_extra=None, routes=None,
                      **listener_extra):
    routes = routes or [route("grpc", prefix="/test.Echo/", **(route_extra or {}))]
    return bootstrap([http_listener([vhost(routes)], **listener_extra)],
                     [h2_cluster("grpc", [server_port], **(cluster_extra or {}))])


@pytest.fixture(params=["direct", "proxy"])
def target(request, grpc_server, proxy_factory):
    """(port the client dials, proxy or None)."""
    if request.param == "direct":
        return grpc_server.port, None
    proxy = proxy_factory(grpc_proxy_config(grpc_server.port))
    return proxy.port(), proxy


@pytest.fixture
def grpc_proxy(grpc_server, proxy_factory):
    return proxy_factory(grpc_proxy_config(grpc_server.port))


def _wait(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# ---------------------------------------------------------------------------------------------
# The four kinds of call.

def test_unary_with_metadata_and_trailers(target, grpc_server):
    port, proxy = target
    with channel(port) as ch:
        response, call = stubs(ch)["Unary"].with_call(
            b"hello grpc", timeout=10,
            metadata=[("x-custom", "abc"), ("x-trailer", "x-done=yes"),
                      ("x-initial", "x-first=1"), ("bin-data-bin", b"\x00\x01\xff")])
    assert response == b"hello grpc"
    assert call.code() == grpc.StatusCode.OK
    trailing = dict(call.trailing_metadata())
    assert trailing.get("x-done") == "yes", call.trailing_metadata()
    assert dict(call.initial_metadata()).get("x-first") == "1", call.initial_metadata()
    record = grpc_server.calls_of("Unary")[-1]
    assert record.meta("x-custom") == "abc"
    assert record.meta("bin-data-bin") == b"\x00\x01\xff"
    if proxy:
        # The proxy adds its request headers to gRPC requests like to any other.
        assert record.meta("x-request-id"), record.metadata
        assert record.meta("x-forwarded-for") == "127.0.0.1", record.metadata
        assert proxy.metric("skiff_upstream_requests_total", cluster="grpc", code="200") >= 1


def test_server_streaming(target, grpc_server):
    port, _ = target
    with channel(port) as ch:
        call = stubs(ch)["ServerStream"](b"", timeout=10,
                                         metadata=[("x-count", "200"), ("x-size", "1000")])
        messages = list(call)
        assert call.code() == grpc.StatusCode.OK
    assert len(messages) == 200
    assert all(m == pattern_bytes(1000) for m in messages)


def test_client_streaming(target, grpc_server):
    port, _ = target
    messages = [("message %d " % i).encode() * (i + 1) for i in range(100)]
    with channel(port) as ch:
        response = stubs(ch)["ClientStream"](iter(messages), timeout=10)
    count, total, sha = response.split()
    assert int(count) == 100
    assert int(total) == sum(len(m) for m in messages)
    assert sha.decode() == hashlib.sha256(b"".join(messages)).hexdigest()


def test_bidi_streaming_is_interactive(target, grpc_server):
    """Each reply must arrive before the next request is sent: a proxy that buffers a whole
    request stream before forwarding it deadlocks here (and times out)."""
    port, _ = target
    replies = threading.Semaphore(0)
    stalled = []

    def requests():
        for i in range(50):
            yield b"ping %d" % i
            # Wait until the reply to this message came back.
            if not replies.acquire(timeout=5):
                stalled.append(i)
                return

    with channel(port) as ch:
        call = stubs(ch)["Bidi"](requests(), timeout=20)
        received = []
        for reply in call:
            received.append(reply)
            replies.release()
        assert call.code() == grpc.StatusCode.OK
    assert not stalled, "no reply to message %d within 5 s" % stalled[0]
    assert received == [b"ping %d" % i for i in range(50)]


def test_server_error_passes_through(target, grpc_server):
    port, _ = target
    with channel(port) as ch:
        with pytest.raises(grpc.RpcError) as info:
            stubs(ch)["Unary"](b"x", timeout=10,
                               metadata=[("x-abort", "NOT_FOUND:nope"),
                                         ("x-trailer", "x-why=because")])
    error = info.value
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "nope"
    assert all_metadata(error).get("x-why") == ["because"]


def test_error_after_streamed_messages_keeps_status(target, grpc_server):
    """Messages, then a non-OK status in the trailers: trailers must follow DATA frames."""
    port, _ = target
    with channel(port) as ch:
        call = stubs(ch)["Bidi"](iter([b"a", b"b"]), timeout=10,
                                 metadata=[("x-trailer", "x-tail=1")])
        assert list(call) == [b"a", b"b"]
        assert call.code() == grpc.StatusCode.OK
        assert dict(call.trailing_metadata()).get("x-tail") == "1"


def test_large_messages_4mb_each_way(target, grpc_server):
    port, _ = target
    request = pattern_bytes(4 * MB + 17)
    with channel(port) as ch:
        response = stubs(ch)["Unary"](request, timeout=30,
                                      metadata=[("x-response-size", str(4 * MB + 3))])
    assert len(response) == 4 * MB + 3
    assert response == pattern_bytes(4 * MB + 3)
    assert grpc_server.calls_of("Unary")[-1].messages_received == 1


def test_deadline_exceeded_and_server_sees_cancellation(target, grpc_server):
    port, _ = target
    with channel(port) as ch:
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            stubs(ch)["Unary"](b"x", timeout=0.5, metadata=[("x-sleep", "5")])
        elapsed = time.monotonic() - start
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 2.0, "deadline of 0.5 s took %.2fs" % elapsed
    record = grpc_server.calls_of("Unary")[-1]
    assert record.cancelled.wait(3), "the server never saw the call end"
    assert record.cancelled_at - record.started < 2.5


def test_client_cancel_mid_stream_cancels_upstream(target, grpc_server):
    port, _ = target
    with channel(port) as ch:
        call = stubs(ch)["ServerStream"](b"", timeout=30,
                                         metadata=[("x-count", "100000"),
                                                   ("x-interval-ms", "20")])
        got = [next(call) for _ in range(5)]
        assert len(got) == 5
        cancelled_at = time.monotonic()
        call.cancel()
        assert call.code() == grpc.StatusCode.CANCELLED
    record = grpc_server.calls_of("ServerStream")[-1]
    assert record.cancelled.wait(3), (
        "the server's call stayed active after the client cancelled (sent %d messages)"
        % record.messages_sent)
    assert record.cancelled_at - cancelled_at < 2.0
    assert _wait(lambda: record.finished.is_set())
    assert record.messages_sent < 1000


def test_50_parallel_calls(target, grpc_server):
    port, proxy = target
    with channel(port) as ch:
        unary = stubs(ch)["Unary"]
        futures = [unary.future(b"call %d" % i, timeout=20, metadata=[("x-sleep", "0.5")])
                   for i in range(50)]
        results = [f.result() for f in futures]
    assert results == [b"call %d" % i for i in range(50)]
    assert grpc_server.max_active >= 20, "calls were serialized: max %d active" % (
        grpc_server.max_active)
    if proxy:
        # h2 upstream pools multiplex: 50 concurrent calls on few connections.
        connections = proxy.metric("skiff_upstream_connections_total", cluster="grpc")
        assert connections <= 4, "%d upstream connections for 50 concurrent calls" % connections


# ---------------------------------------------------------------------------------------------
# Flow control.

def test_large_client_stream_to_slow_server_bounded_memory(grpc_proxy, grpc_server):
    proxy = grpc_proxy
    with channel(proxy.port()) as ch:
        assert stubs(ch)["Unary"](b"warm", timeout=10) == b"warm"
    hwm_before = proxy.hwm_kb()
    piece = pattern_bytes(64 * 1024)
    count = 640  # 40 MB

    def messages():
        for _ in range(count):
            yield piece

    with channel(proxy.port()) as ch:
        # The server reads ~64 KiB per 2 ms (~30 MB/s); the client writes as fast as it can.
        response = stubs(ch)["ClientStream"](messages(), timeout=120,
                                             metadata=[("x-read-delay-ms", "2")])
    n, total, sha = response.split()
    assert int(n) == count and int(total) == count * len(piece)
    assert sha.decode() == hashlib.sha256(piece * count).hexdigest()
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB for a 40 MB upload" % growth


def test_large_server_stream_to_slow_client_bounded_memory(grpc_proxy, grpc_server):
    proxy = grpc_proxy
    with channel(proxy.port()) as ch:
        assert stubs(ch)["Unary"](b"warm", timeout=10) == b"warm"
    hwm_before = proxy.hwm_kb()
    with channel(proxy.port()) as ch:
        call = stubs(ch)["ServerStream"](b"", timeout=120,
                                         metadata=[("x-count", "800"), ("x-size", "65536")])
        first = next(call)
        time.sleep(1.0)  # the server writes 50 MB as fast as it can; the client waits
        received = len(first) + sum(len(m) for m in call)
    assert received == 800 * 65536
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB for a 50 MB stream" % growth


# ---------------------------------------------------------------------------------------------
# Replies the proxy makes itself, as gRPC.

def _proxy_error(port, method="/test.Echo/Unary", timeout=10, metadata=()):
    with channel(port) as ch:
        with pytest.raises(grpc.RpcError) as info:
            ch.unary_unary(method)(b"x", timeout=timeout, metadata=list(metadata))
    return info.value


def test_no_route_is_unimplemented(proxy_factory, grpc_server):
    proxy = proxy_factory(grpc_proxy_config(grpc_server.port))
    error = _proxy_error(proxy.port(), method="/other.Service/Call")
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED, (error.code(), error.details())
    assert all_metadata(error).get("x-skiff-flags") == ["NR"], all_metadata(error)
    assert grpc_server.calls == []


def test_upstream_down_is_unavailable(proxy_factory):
    proxy = proxy_factory(grpc_proxy_config(closed_port(),
                                            cluster_extra={"connect_timeout": "2s"}))
    start = time.monotonic()
    error = _proxy_error(proxy.port())
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
    assert all_metadata(error).get("x-skiff-flags") == ["UF"], all_metadata(error)
    assert time.monotonic() - start < 2.0


def test_route_timeout_is_deadline_exceeded_and_cancels_upstream(proxy_factory, grpc_server):
    proxy = proxy_factory(grpc_proxy_config(grpc_server.port, route_extra={"timeout": "0.5s"}))
    start = time.monotonic()
    # No client deadline: only the proxy's route timeout can end this call.
    error = _proxy_error(proxy.port(), timeout=None, metadata=[("x-sleep", "10")])
    elapsed = time.monotonic() - start
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (error.code(), error.details())
    assert all_metadata(error).get("x-skiff-flags") == ["UT"], all_metadata(error)
    assert 0.4 < elapsed < 2.0, elapsed
    record = grpc_server.calls_of("Unary")[-1]
    assert record.cancelled.wait(3), "the proxy did not reset the upstream stream"


def test_grpc_timeout_shorter_than_route_timeout_wins(proxy_factory, grpc_server):
    proxy = proxy_factory(grpc_proxy_config(grpc_server.port, route_extra={"timeout": "30s"}))
    start = time.monotonic()
    error = _proxy_error(proxy.port(), timeout=0.5, metadata=[("x-sleep", "10")])
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 2.0
    record = grpc_server.calls_of("Unary")[-1]
    assert record.cancelled.wait(3)


def test_grpc_access_log_and_stats(proxy_factory, grpc_server, tmp_path):
    import json
    log_path = tmp_path / "grpc_access.log"
    proxy = proxy_factory(grpc_proxy_config(grpc_server.port,
                                            access_log={"path": str(log_path)}))
    with channel(proxy.port()) as ch:
        assert stubs(ch)["Unary"](b"x", timeout=10) == b"x"
    assert _wait(lambda: log_path.exists() and log_path.read_text().strip())
    entry = json.loads(log_path.read_text().splitlines()[0])
    assert entry["protocol"] == "HTTP/2"
    assert entry["path"] == "/test.Echo/Unary"
    assert entry["method"] == "POST"
    assert int(entry["status"]) == 200
    assert entry["upstream_cluster"] == "grpc"
    assert proxy.metric("skiff_downstream_requests_total", listener="http", code="200") >= 1
