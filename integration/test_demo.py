"""tools/demo --once runs end to end (it uses fixed ports, so it is skipped when they are busy)."""

import os
import socket
import subprocess

import pytest

from harness import REPO_ROOT, proxy_binary


def _busy(port):
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_once():
    busy = [p for p in (10000, 10002, 15000, 18080, 18082) if _busy(p)]
    if busy:
        pytest.skip("demo ports in use: %s" % busy)
    env = dict(os.environ, SKIFF_DEMO_SKIP_SETUP="1", SKIFF_PROXY=proxy_binary())
    result = subprocess.run([os.path.join(REPO_ROOT, "tools", "demo"), "--once"], env=env,
                            capture_output=True, timeout=120)
    out = result.stdout.decode(errors="replace")
    assert result.returncode == 0, out + result.stderr.decode(errors="replace")
    assert "echoed back: 'hello over tcp'" in out, out
    assert "x-served-by: skiff-demo" in out.lower(), out
    assert "requests by status code" in out, out
    # The summary lists the 200s wrk produced.
    assert any(line.split()[:2] == ["http", "200"] for line in out.splitlines()), out
    # Every child is gone.
    for port in (10000, 10002, 15000, 18080, 18082):
        assert not _busy(port), "port %d still served after the demo exited" % port
