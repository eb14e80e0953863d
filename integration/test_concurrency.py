"""Several workers."""

import concurrent.futures
import http.client

from harness import simple_http_config


def _get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_two_workers_serve_traffic(proxy_factory, upstream):
    proxy = proxy_factory(simple_http_config(upstream.port), concurrency=2)
    assert proxy.metric("skiff_server_workers") == 2
    port = proxy.port()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: _get(port, "/c/%d" % i), range(200)))
    assert statuses == [200] * 200
    assert proxy.metric("skiff_downstream_connections_total", listener="http") >= 200
    assert proxy.metric("skiff_downstream_requests_total", listener="http", code="200") == 200
