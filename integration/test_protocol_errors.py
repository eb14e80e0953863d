"""Malformed and oversized requests: the proxy answers itself and never forwards a smuggled
request. Each case carries a second request ("GET /smuggled") that a lenient parser would
see as a new request."""

import pytest

from harness import RawConnection, bootstrap, cluster, http_listener, route, vhost

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

CASES = {
    "cl_and_te": (b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    "te_and_cl": (b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Length: 6\r\n\r\n0\r\n\r\n" + SMUGGLED),
    "two_content_lengths": (b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                            b"Content-Length: 37\r\n\r\n" + SMUGGLED),
    "content_length_list": (b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 37\r\n\r\n"
                            + SMUGGLED),
    "bad_chunk_size": (b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
    "chunk_size_overflow": (b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"10000000000000000000001\r\nx\r\n0\r\n\r\n" + SMUGGLED),
    "obs_fold": (b"GET /a HTTP/1.1\r\nHost: x\r\nX-Folded: one\r\n two\r\n\r\n" + SMUGGLED),
    "space_before_colon": (b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length : 37\r\n\r\n"
                           + SMUGGLED),
    "invalid_header_name": (b"GET /a HTTP/1.1\r\nHost: x\r\nBad(Name): v\r\n\r\n" + SMUGGLED),
    "te_not_chunked_last": (b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip"
                            b"\r\n\r\n0\r\n\r\n" + SMUGGLED),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_smuggling_attempt_is_rejected_and_connection_closed(proxy, upstream, case):
    with RawConnection(proxy.port()) as conn:
        conn.send(CASES[case])
        response = conn.read_response()
        assert response.status == 400, response
        assert response.header("x-skiff-flags") == "DPE", response
        assert conn.is_closed(), "connection still open after a 400 (or more bytes followed)"
    assert "/smuggled" not in " ".join(upstream.paths()), upstream.paths()
    # The proxy still serves well-formed requests afterwards.
    with RawConnection(proxy.port()) as conn:
        conn.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().status == 200
    assert proxy.metric("skiff_downstream_protocol_errors_total") >= 1


@pytest.fixture
def limited_proxy(proxy_factory, upstream):
    config = bootstrap(
        [http_listener([vhost([route("backend")])], max_request_headers_kb=8,
                       max_request_body_bytes=100_000)],
        [cluster("backend", [upstream.port])])
    return proxy_factory(config)


def test_oversized_headers_get_431(limited_proxy, upstream):
    big = b"X-Big: " + b"a" * (16 * 1024) + b"\r\n"
    with RawConnection(limited_proxy.port()) as conn:
        conn.send(b"GET /big HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
        response = conn.read_response()
    assert response.status == 431, response
    assert response.header("x-skiff-flags") == "DPE"
    assert "/big" not in upstream.paths()


def test_headers_under_the_limit_pass(limited_proxy, upstream):
    header = b"X-Big: " + b"a" * (4 * 1024) + b"\r\n"
    with RawConnection(limited_proxy.port()) as conn:
        conn.send(b"GET /ok HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n")
        assert conn.read_response().status == 200


def test_content_length_over_limit_gets_413(limited_proxy, upstream):
    body = b"b" * 200_000
    with RawConnection(limited_proxy.port()) as conn:
        conn.send(b"POST /large HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        try:
            conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy may close as soon as it has answered
        response = conn.read_response()
    assert response.status == 413, response
    assert response.header("x-skiff-flags") == "DPE"
    assert "/large" not in upstream.paths()


def test_chunked_body_over_limit_gets_413(limited_proxy, upstream):
    with RawConnection(limited_proxy.port()) as conn:
        conn.send(b"POST /large-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(10):
                conn.send(b"8000\r\n" + b"c" * 0x8000 + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = conn.read_response()
    # The request may already be on its way upstream when the limit is crossed; either way
    # the client must see 413, never the upstream's 200 for a truncated body.
    assert response.status == 413, response


def test_body_under_the_limit_passes(limited_proxy, upstream):
    body = b"b" * 50_000
    with RawConnection(limited_proxy.port()) as conn:
        conn.send(b"POST /fine HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body)
        response = conn.read_response()
    assert response.status == 200
    assert response.json()["body_length"] == len(body)
