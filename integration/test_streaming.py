"""Bodies stream through the proxy: memory stays flat however large the body is."""

import hashlib
import random
import time

import pytest

import upstreams
from harness import RawConnection

MB = 1024 * 1024
# The proxy's peak RSS may grow by at most this much while moving a 40-50 MB body.
RSS_GROWTH_LIMIT_KB = 16 * 1024


def _warm_up(proxy):
    # One small request first, so lazily allocated pools and buffers count in the baseline.
    with RawConnection(proxy.port()) as conn:
        conn.send(b"GET /warmup HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.read_response().status == 200


def test_chunked_upload_40mb_streams_with_bounded_memory(proxy, upstream):
    _warm_up(proxy)
    hwm_before = proxy.hwm_kb()
    total = 40 * MB
    rng = random.Random(1234)
    digest = hashlib.sha256()
    # The upstream reads at roughly 30 MB/s while the client writes as fast as loopback allows:
    # a proxy without backpressure (or one that buffers the whole body) holds the difference.
    with RawConnection(proxy.port(), timeout=60) as conn:
        conn.send(b"POST /upload?read_delay_ms=2 HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n")
        sent = 0
        while sent < total:
            size = min(rng.randint(1, 128 * 1024), total - sent)
            chunk = rng.randbytes(size)
            digest.update(chunk)
            conn.send(b"%x\r\n" % size + chunk + b"\r\n")
            sent += size
        conn.send(b"0\r\n\r\n")
        response = conn.read_response()
    assert response.status == 200, response
    echo = response.json()
    assert echo["body_length"] == total
    assert echo["body_sha256"] == digest.hexdigest()
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB for a 40 MB upload" % growth


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_large_download_streams_with_bounded_memory(proxy, upstream, framing):
    _warm_up(proxy)
    hwm_before = proxy.hwm_kb()
    total = 50 * MB
    query = "size=%d" % total + ("&chunked=1" if framing == "chunked" else "")
    with RawConnection(proxy.port(), timeout=60, rcvbuf=64 * 1024) as conn:
        conn.send(b"GET /download?%s HTTP/1.1\r\nHost: x\r\n\r\n" % query.encode())
        # Do not read at all for a while: the upstream writes as fast as it can, so a proxy
        # that does not stop reading from the upstream would buffer most of the body now.
        time.sleep(0.7)
        response = conn.read_response()
    assert response.status == 200
    assert len(response.body) == total
    assert hashlib.sha256(response.body).hexdigest() == upstreams.pattern_sha256(total)
    growth = proxy.hwm_kb() - hwm_before
    assert growth < RSS_GROWTH_LIMIT_KB, "peak RSS grew by %d kB for a 50 MB download" % growth
