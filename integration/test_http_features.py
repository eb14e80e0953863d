"""HTTP/1.0, Expect: 100-continue and Upgrade passthrough."""

import hashlib
import os

from harness import RawConnection, curl


def test_http10_request_is_answered_and_closed(proxy, upstream):
    with RawConnection(proxy.port()) as conn:
        conn.send(b"GET /old-client HTTP/1.0\r\nHost: x\r\n\r\n")
        response = conn.read_response()
        assert response.status == 200
        assert response.json()["path"] == "/old-client"
        assert conn.is_closed(), "HTTP/1.0 request without keep-alive must close"


def test_http10_without_host(proxy, upstream):
    with RawConnection(proxy.port()) as conn:
        conn.send(b"GET /no-host HTTP/1.0\r\n\r\n")
        response = conn.read_response()
        assert response.status == 200
        assert conn.is_closed()


def test_expect_100_continue_with_curl(proxy, upstream, tmp_path):
    body = os.urandom(2 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(body)
    result = curl(["-v", "--expect100-timeout", "10", "-H", "Expect: 100-continue",
                   "--data-binary", "@%s" % path, proxy.url("/expect")])
    # curl waits up to --expect100-timeout for the interim response; it must come at once.
    assert "HTTP/1.1 100 Continue" in result.stderr_text, result.stderr_text[-2000:]
    assert '"body_length": %d' % len(body) in result.stdout_text
    assert hashlib.sha256(body).hexdigest() in result.stdout_text


def test_expect_100_continue_raw(proxy, upstream):
    with RawConnection(proxy.port(), timeout=3) as conn:
        conn.send(b"POST /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        interim = conn.read_until(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        conn.send(b"0123456789")
        response = conn.read_response()
    assert response.status == 200
    assert response.json()["body_length"] == 10


def test_upgrade_passthrough(proxy, upstream):
    with RawConnection(proxy.port(), timeout=3) as conn:
        conn.send(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                  b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        response = conn.read_response()
        assert response.status == 101, response
        assert (response.header("upgrade") or "").lower() == "websocket"
        # From here on the connection is a raw byte pipe, in both directions.
        for payload in (b"\x81\x05hello", b"not http at all\r\n\r\n", bytes(range(256)) * 40):
            conn.send(payload)
            assert conn.read_exact(len(payload)) == payload
