"""Routing: virtual hosts, path/header/query matching, weighted clusters, rewrites and
header manipulation, against two upstreams named "a" and "b"."""

import collections
import http.client

import pytest

from harness import bootstrap, cluster, curl_json, header_values, http_listener


def _route(match, cluster_name=None, **action):
    act = dict(action)
    if cluster_name:
        act["cluster"] = cluster_name
    return {"match": match, "route": act}


@pytest.fixture
def routed(proxy_factory, http_upstream_factory):
    a = http_upstream_factory("a")
    b = http_upstream_factory("b")
    default_routes = [
        _route({"path": "/exact"}, "b"),
        _route({"safe_regex": "/users/[0-9]+"}, "b"),
        _route({"prefix": "/hdr", "headers": [{"name": "x-canary", "exact_match": "1"}]}, "b"),
        _route({"prefix": "/hdr", "headers": [{"name": "x-tier", "prefix_match": "gold"}]}, "b"),
        _route({"prefix": "/hdr", "headers": [{"name": "x-id", "safe_regex_match": "[0-9]{3}"}]},
               "b"),
        _route({"prefix": "/hdr", "headers": [{"name": "x-flag", "present_match": True}]}, "b"),
        _route({"prefix": "/inv", "headers": [{"name": "x-env", "exact_match": "prod",
                                              "invert_match": True}]}, "b"),
        _route({"prefix": "/query", "query_parameters": [{"name": "version",
                                                          "exact_match": "v2"}]}, "b"),
        _route({"prefix": "/query", "query_parameters": [{"name": "debug",
                                                          "present_match": True}]}, "b"),
        _route({"prefix": "/old/"}, "a", prefix_rewrite="/new/"),
        _route({"prefix": "/hostrw"}, "a", host_rewrite_literal="rewritten.local"),
        {"match": {"prefix": "/headers"},
         "route": {"cluster": "a"},
         "request_headers_to_add": [{"key": "x-route-added", "value": "route"},
                                    {"key": "x-replaced", "value": "new"},
                                    {"key": "x-appended", "value": "second", "append": True}],
         "request_headers_to_remove": ["x-secret"],
         "response_headers_to_add": [{"key": "x-resp-added", "value": "yes"}],
         "response_headers_to_remove": ["x-upstream-secret"]},
        _route({"prefix": "/weighted"}, weighted_clusters={"clusters": [
            {"name": "a", "weight": 80}, {"name": "b", "weight": 20}]}),
        _route({"prefix": "/"}, "a"),
    ]
    virtual_hosts = [
        {"name": "a_host", "domains": ["a.local"], "routes": [_route({"prefix": "/"}, "a")]},
        {"name": "b_host", "domains": ["b.local", "*.wild.local", "api.*"],
         "routes": [_route({"prefix": "/"}, "b")]},
        {"name": "default", "domains": ["*"], "routes": default_routes,
         "request_headers_to_add": [{"key": "x-vhost", "value": "default"}],
         "response_headers_to_add": [{"key": "x-vhost-resp", "value": "default"}]},
    ]
    config = bootstrap([http_listener(virtual_hosts)],
                       [cluster("a", [a.port]), cluster("b", [b.port])])
    proxy = proxy_factory(config)
    return proxy, a, b


ROUTING_CASES = [
    # (host, path, extra headers, expected upstream)
    ("a.local", "/exact", [], "a"),
    ("b.local", "/anything", [], "b"),
    ("b.local:8080", "/anything", [], "b"),
    ("x.wild.local", "/", [], "b"),
    ("api.example", "/", [], "b"),
    ("other.local", "/exact", [], "b"),
    ("other.local", "/exact/more", [], "a"),
    ("other.local", "/exactly", [], "a"),
    ("other.local", "/users/123", [], "b"),
    ("other.local", "/users/12a", [], "a"),
    ("other.local", "/users/123/x", [], "a"),
    ("other.local", "/users/123?q=1", [], "b"),
    ("other.local", "/hdr", ["x-canary: 1"], "b"),
    ("other.local", "/hdr", ["x-canary: 2"], "a"),
    ("other.local", "/hdr", ["x-tier: golden"], "b"),
    ("other.local", "/hdr", ["x-tier: silver"], "a"),
    ("other.local", "/hdr", ["x-id: 123"], "b"),
    ("other.local", "/hdr", ["x-id: 1234"], "a"),
    ("other.local", "/hdr", ["x-flag: "], "b"),
    ("other.local", "/hdr", [], "a"),
    ("other.local", "/inv", ["x-env: staging"], "b"),
    ("other.local", "/inv", ["x-env: prod"], "a"),
    ("other.local", "/query?version=v2", [], "b"),
    ("other.local", "/query?a=1&version=v2&b=2", [], "b"),
    ("other.local", "/query?version=v1", [], "a"),
    ("other.local", "/query?debug", [], "b"),
    ("other.local", "/query", [], "a"),
]


def test_routing_table(routed):
    proxy, a, b = routed
    failures = []
    for host, path, headers, expected in ROUTING_CASES:
        args = ["-H", "Host: " + host]
        for header in headers:
            # curl drops "Name:" (empty value) unless given as "Name;".
            args += ["-H", header if not header.endswith(": ") else header[:-2] + ";"]
        status, echo, _ = curl_json(proxy.url(path), *args)
        got = echo["server"] if status == 200 else status
        if got != expected:
            failures.append("%s %s %s -> %s, want %s" % (host, path, headers, got, expected))
    assert not failures, "\n".join(failures)


def test_prefix_rewrite(routed):
    proxy, a, _ = routed
    status, echo, _ = curl_json(proxy.url("/old/thing?x=1"))
    assert status == 200
    assert echo["server"] == "a"
    assert echo["path"] == "/new/thing?x=1"


def test_host_rewrite(routed):
    proxy, _, _ = routed
    status, echo, _ = curl_json(proxy.url("/hostrw"), "-H", "Host: original.local")
    assert status == 200
    assert header_values(echo, "host") == ["rewritten.local"]


def test_request_and_response_header_manipulation(routed):
    proxy, _, _ = routed
    status, echo, headers = curl_json(
        proxy.url("/headers?set_header=X-Upstream-Secret:s3cret&set_header=X-Kept:k"),
        "-H", "X-Secret: hide-me", "-H", "X-Replaced: old", "-H", "X-Appended: first")
    assert status == 200
    assert header_values(echo, "x-secret") == []
    assert header_values(echo, "x-route-added") == ["route"]
    assert header_values(echo, "x-replaced") == ["new"]
    appended = header_values(echo, "x-appended")
    assert appended in (["first", "second"], ["first,second"], ["first, second"]), appended
    assert header_values(echo, "x-vhost") == ["default"]
    assert "x-upstream-secret" not in headers
    assert headers.get("x-kept") == "k"
    assert headers.get("x-resp-added") == "yes"
    assert headers.get("x-vhost-resp") == "default"


def test_weighted_clusters_split_80_20(routed):
    proxy, a, b = routed
    total = 1000
    counts = collections.Counter()
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port(), timeout=10)
    for i in range(total):
        conn.request("GET", "/weighted/%d" % i)
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        counts[response.getheader("x-upstream-name")] += 1
    conn.close()
    # Binomial sd is ~12.6 for 1000 draws at p=0.8: 60 is nearly 5 sd.
    assert abs(counts["a"] - 800) <= 60, counts
    assert counts["a"] + counts["b"] == total
