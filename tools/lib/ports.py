"""Ports picked in advance for test and benchmark processes."""

import os
import socket


def _port_range_outside_ephemeral():
    """Ports the kernel never hands out on its own: below (or above) the ephemeral range that
    connect() and bind(port 0) draw from. A port picked inside that range can be taken by any
    outgoing connection between the pick and the proxy's bind (CI saw exactly that)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - 10000 >= 1024:
        return 10000, low - 1
    return high + 1, 65535


_PORT_LOW, _PORT_HIGH = _port_range_outside_ephemeral()
_port_cursor = _PORT_LOW + (os.getpid() * 7919) % (_PORT_HIGH - _PORT_LOW)
_issued_ports = set()


def free_port():
    """A port that is free now, outside the ephemeral range, and not handed out before by this
    process. Only for addresses that must be known in advance: listeners under test use port 0."""
    global _port_cursor
    span = _PORT_HIGH - _PORT_LOW + 1
    for _ in range(span):
        port = _port_cursor
        _port_cursor = _PORT_LOW + (_port_cursor + 1 - _PORT_LOW) % span
        if port in _issued_ports:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _issued_ports.add(port)
        return port
    raise RuntimeError("no free port in %d-%d" % (_PORT_LOW, _PORT_HIGH))
