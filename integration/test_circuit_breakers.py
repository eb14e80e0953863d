"""Circuit breakers through the real proxy: an overload against max_requests, the pending queue
of a cluster held to few connections, and a gRPC call over the limit."""

import asyncio
import time

from harness import bootstrap, cluster, http_listener, route, vhost


async def _one(port, path):
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("GET %s HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n"
                  % path).encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers.get("x-skiff-flags", ""), time.monotonic() - start


def _concurrently(port, count, path):
    """`count` requests at once, each on its own connection: (status, flags, seconds)."""
    async def run():
        return await asyncio.gather(*[_one(port, path) for _ in range(count)])
    return asyncio.run(run())


def _limited_cluster(upstream_port, **limits):
    return cluster("backend", [upstream_port], circuit_breakers=limits)


def test_overload_past_max_requests_is_refused_at_once_and_memory_stays_bounded(
        proxy_factory, upstream):
    config = bootstrap([http_listener([vhost([route("backend")])])],
                       [_limited_cluster(upstream.port, max_requests=100)])
    proxy = proxy_factory(config)
    assert proxy.metric("skiff_upstream_circuit_breaker_remaining", cluster="backend",
                        resource="requests") == 100
    rss_before = proxy.rss_kb()
    results = _concurrently(proxy.port("http"), 1000, "/slow?sleep=3")
    rss_after = proxy.rss_kb()

    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 503]
    assert len(ok) + len(refused) == 1000, sorted(set(r[0] for r in results))
    # Every request the upstream saw was within the limit (the client's connections arrive
    # over some time, so more than 100 may pass in total, but never 100 at once).
    assert upstream.max_active <= 100, upstream.max_active
    assert len(ok) >= 100
    assert len(refused) >= 500, len(refused)
    assert all(flags == "UO" for _, flags, _ in refused), set(f for _, f, _ in refused)
    # Refused at once, not after waiting for the slow upstream.
    fast = sorted(seconds for _, _, seconds in refused)
    assert fast[len(fast) // 2] < 1.5, fast[len(fast) // 2]
    assert proxy.metric("skiff_upstream_overflow_total", cluster="backend",
                        resource="requests") == len(refused)
    # Every slot came back.
    assert proxy.metric("skiff_upstream_circuit_breaker_remaining", cluster="backend",
                        resource="requests") == 100
    # 1,000 connections at 10x the limit: a few MiB, not a queue of everything.
    assert rss_after - rss_before < 64 * 1024, (rss_before, rss_after)


def test_few_connections_queue_requests_and_the_pending_limit_refuses_the_rest(
        proxy_factory, upstream):
    config = bootstrap([http_listener([vhost([route("backend")])])],
                       [_limited_cluster(upstream.port, max_connections=2,
                                         max_pending_requests=3)])
    proxy = proxy_factory(config)
    results = _concurrently(proxy.port("http"), 10, "/slow?sleep=0.5")
    statuses = sorted(r[0] for r in results)
    # At most 2 connections: a request waits for one of them (3 may wait); the rest are UO.
    assert upstream.max_active <= 2, upstream.max_active
    assert statuses.count(200) >= 2 and statuses.count(503) >= 1, statuses
    assert all(flags == "UO" for status, flags, _ in results if status == 503)
    assert proxy.metric("skiff_upstream_overflow_total", cluster="backend",
                        resource="pending_requests") == statuses.count(503)
    assert proxy.metric("skiff_upstream_connections_active", cluster="backend") <= 2
    # Once the load is gone every request gets through again.
    assert [r[0] for r in _concurrently(proxy.port("http"), 2, "/")] == [200, 200]


def test_a_grpc_call_over_the_limit_is_unavailable(proxy_factory, grpc_server):
    import grpc
    from grpc_service import channel, stubs
    from harness import h2_cluster
    config = bootstrap([http_listener([vhost([route("grpc", prefix="/test.Echo/")])])],
                       [h2_cluster("grpc", [grpc_server.port],
                                   circuit_breakers={"max_requests": 0})])
    proxy = proxy_factory(config)
    with channel(proxy.port()) as ch:
        try:
            stubs(ch)["Unary"](b"x", timeout=10)
            raise AssertionError("the call went through")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
    assert proxy.metric("skiff_upstream_overflow_total", cluster="grpc",
                        resource="requests") == 1
