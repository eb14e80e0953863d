"""Replies the proxy generates itself, each with its x-skiff-flags value."""

import time

from harness import (bootstrap, closed_port, cluster, curl, curl_json,
                     http_listener, route, vhost)


def _get(url, *args):
    start = time.monotonic()
    status, body, headers = curl_json(url, *args)
    return status, body, headers, time.monotonic() - start


def test_upstream_down_is_503_uf_quickly(proxy_factory):
    config = bootstrap([http_listener([vhost([route("down")])])],
                       [cluster("down", [closed_port()], connect_timeout="2s")])
    proxy = proxy_factory(config)
    status, body, headers, elapsed = _get(proxy.url("/x"))
    assert status == 503
    assert headers.get("x-skiff-flags") == "UF"
    assert elapsed < 0.5, "a refused connect took %.3fs to turn into 503" % elapsed
    assert proxy.metric("skiff_upstream_connect_failures_total", cluster="down") >= 1


def test_cluster_without_hosts_is_503_uh(proxy_factory):
    # A static cluster must have endpoints; a DNS cluster whose name does not resolve (the
    # .invalid TLD never does, RFC 6761) has none.
    config = bootstrap([http_listener([vhost([route("empty")])])],
                       [{"name": "empty", "type": "STRICT_DNS", "dns_refresh_rate": "1s",
                         "endpoints": [{"address": {"address": "skiff-test.invalid",
                                                    "port": 80}}]}])
    proxy = proxy_factory(config)
    time.sleep(0.2)  # let the first resolution fail
    status, _, headers, _ = _get(proxy.url("/x"))
    assert status == 503
    assert headers.get("x-skiff-flags") == "UH"


def test_no_route_is_404_nr(proxy_factory, upstream):
    config = bootstrap(
        [http_listener([vhost([route("backend", prefix="/api/")], domains=["api.local"])])],
        [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config)
    # No virtual host for this authority.
    status, _, headers, _ = _get(proxy.url("/api/x"), "-H", "Host: other.local")
    assert (status, headers.get("x-skiff-flags")) == (404, "NR")
    # A virtual host, but no route for the path.
    status, _, headers, _ = _get(proxy.url("/other"), "-H", "Host: api.local")
    assert (status, headers.get("x-skiff-flags")) == (404, "NR")
    # And the route that exists works.
    status, echo, _, _ = _get(proxy.url("/api/x"), "-H", "Host: api.local")
    assert status == 200 and echo["path"] == "/api/x"
    assert upstream.paths() == ["/api/x"]


def test_route_timeout_is_504_ut(proxy_factory, upstream):
    config = bootstrap([http_listener([vhost([route("backend", timeout="0.5s")])])],
                       [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config)
    status, _, headers, elapsed = _get(proxy.url("/slow?sleep=3"))
    assert status == 504
    assert headers.get("x-skiff-flags") == "UT"
    assert 0.4 < elapsed < 2.0, elapsed
    assert proxy.metric("skiff_upstream_request_timeouts_total", cluster="backend") >= 1
    # A fast request on the same route is not affected.
    status, _, _, _ = _get(proxy.url("/fast"))
    assert status == 200


def test_stream_idle_timeout_is_504_si(proxy_factory, upstream):
    config = bootstrap([http_listener([vhost([route("backend", timeout="10s",
                                                    idle_timeout="0.5s")])])],
                       [cluster("backend", [upstream.port])])
    proxy = proxy_factory(config)
    status, _, headers, elapsed = _get(proxy.url("/idle?sleep=3"))
    assert (status, headers.get("x-skiff-flags")) == (504, "SI")
    assert elapsed < 2.0


def test_upstream_closes_before_responding_is_503_uc(proxy):
    status, _, headers, _ = _get(proxy.url("/x?drop=1"))
    assert (status, headers.get("x-skiff-flags")) == (503, "UC")


def test_malformed_upstream_response_is_502_upe(proxy):
    status, _, headers, _ = _get(proxy.url("/x?garbage=1"))
    assert (status, headers.get("x-skiff-flags")) == (502, "UPE")


def test_upstream_closing_mid_response_truncates_downstream(proxy):
    # Headers (Content-Length: 1000000) and 1000 bytes were already relayed; the only honest
    # thing left is to cut the downstream connection so the client sees a short body.
    result = curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                   proxy.url("/x?size=1000000&close_after=1000")], check=False)
    assert result.returncode == 18, (result.returncode, result.stderr_text)  # partial file
    code, size = result.stdout_text.split()
    assert code == "200" and int(size) < 1000000
    # The next request on a fresh connection is fine.
    status, _, _, _ = _get(proxy.url("/x"))
    assert status == 200
