"""tools/demo --once runs end to end (it uses fixed ports, so it is skipped when they are busy)."""

import os
import re
import socket
import subprocess

import pytest

from harness import REPO_ROOT, proxy_binary

PORTS = (15010, 18180, 18181, 18182, 15100, 15101, 15106, 15200, 15201, 15206, 15300, 15301,
         15306)


def _busy(port):
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_once():
    busy = [p for p in PORTS if _busy(p)]
    if busy:
        pytest.skip("demo ports in use: %s" % busy)
    env = dict(os.environ, SKIFF_DEMO_SKIP_SETUP="1", SKIFF_PROXY=proxy_binary())
    result = subprocess.run([os.path.join(REPO_ROOT, "tools", "demo"), "--once"], env=env,
                            capture_output=True, timeout=180)
    out = result.stdout.decode(errors="replace")
    assert result.returncode == 0, out + result.stderr.decode(errors="replace")
    # Before the change only v1 answers; after it both do, roughly 80/20.
    assert "200 backend-v1: 200" in out, out
    after = re.search(r"200 backend-v1: (\d+)  200 backend-v2: (\d+)", out)
    assert after, out
    v1, v2 = int(after.group(1)), int(after.group(2))
    assert v1 + v2 == 1000 and 120 <= v2 <= 280, out
    assert "the change was live" in out, out
    assert "requests by status code" in out, out
    for port in PORTS:
        assert not _busy(port), "port %d still served after the demo exited" % port
