"""Plain requests through the proxy and upstream connection reuse."""

import hashlib
import os

from harness import curl, curl_json, header_values


def test_get(proxy, upstream):
    status, echo, headers = curl_json(proxy.url("/hello/world?x=1"))
    assert status == 200
    assert echo["server"] == "backend"
    assert echo["method"] == "GET"
    assert echo["path"] == "/hello/world?x=1"
    assert headers.get("x-upstream-name") == "backend"


def test_post_body_arrives_intact(proxy, upstream, tmp_path):
    body = os.urandom(300_000)
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    status, echo, _ = curl_json(proxy.url("/upload"), "--data-binary", "@%s" % path,
                                "-H", "Expect:")
    assert status == 200
    assert echo["method"] == "POST"
    assert echo["body_length"] == len(body)
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert header_values(echo, "content-length") == [str(len(body))]


def test_upstream_status_and_chunked_response_pass_through(proxy):
    status, echo, headers = curl_json(proxy.url("/teapot?status=418&chunked=1"))
    assert status == 418
    assert echo["path"] == "/teapot?status=418&chunked=1"


def test_keepalive_reuse(proxy, upstream):
    requests = 50
    before = proxy.metric("skiff_upstream_connections_reused_total", default=0.0,
                          cluster="backend")
    args = ["-w", "%{http_code} %{num_connects}\\n"]
    for i in range(requests):
        args += ["-o", "/dev/null", proxy.url("/r%d" % i)]
    result = curl(args)
    lines = result.stdout_text.split()
    codes = lines[0::2]
    connects = [int(n) for n in lines[1::2]]
    assert codes == ["200"] * requests
    # curl reused its one downstream connection for every URL...
    assert sum(connects) == 1
    # ...and the proxy reused its upstream connection instead of opening one per request.
    assert upstream.paths() == ["/r%d" % i for i in range(requests)]
    assert upstream.connections_accepted <= 3, upstream.connections_accepted
    after = proxy.metric("skiff_upstream_connections_reused_total", cluster="backend")
    assert after - before >= requests - 3, (before, after)
