"""Transparent interception: tools/skiff-iptables, and a sidecar that reads each redirected
connection's original destination (SO_ORIGINAL_DST). The application in the pod is unmodified:
it connects to the other pod's address, and the proxy carries the connection there (an
ORIGINAL_DST "passthrough" cluster) or to a TCP service's cluster (a destination chain)."""

import os
import re
import socket
import subprocess

import pytest
import yaml

import harness
import netns

REPO = harness.REPO_ROOT
IPTABLES_TOOL = os.path.join(REPO, "tools", "skiff-iptables")
PROXY_UID = 1337


def as_other_user(argv):
    """argv run as PROXY_UID: through setpriv when we are root, as it is when we are not."""
    if os.geteuid() != 0:
        return list(argv)
    return ["setpriv", "--reuid", str(PROXY_UID), "--regid", str(PROXY_UID), "--clear-groups",
            *argv]


def tool(*args, pod=None, uid=None, check=True):
    argv = ["/usr/bin/python3", IPTABLES_TOOL, *args]
    if pod is not None:
        return pod.run(argv, uid=uid, check=check)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise AssertionError("skiff-iptables %s -> %d: %s" % (args, result.returncode,
                                                              result.stderr))
    return result


# ---------------------------------------------------------------------------------------------
# skiff-iptables on its own


def test_dry_run_prints_every_rule_and_needs_no_root():
    result = subprocess.run(as_other_user(
        ["/usr/bin/python3", IPTABLES_TOOL, "install", "--proxy-uid", "1337", "--dry-run",
         "--no-ipv6", "--exclude-inbound-ports", "22", "--exclude-outbound-ports", "53",
         "--exclude-outbound-cidrs", "169.254.169.254,fd00::/8"]),
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for expected in [
        "iptables -t nat -N SKIFF_INBOUND",
        "iptables -t nat -A SKIFF_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
        "iptables -t nat -A SKIFF_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
        "iptables -t nat -A SKIFF_INBOUND -p tcp --dport 15000 -j RETURN",
        "iptables -t nat -A SKIFF_INBOUND -p tcp --dport 22 -j RETURN",
        "iptables -t nat -A SKIFF_OUTPUT -m owner --uid-owner 1337 -j RETURN",
        "iptables -t nat -A SKIFF_OUTPUT -d 127.0.0.0/8 -j RETURN",
        "iptables -t nat -A SKIFF_OUTPUT -p tcp --dport 53 -j RETURN",
        "iptables -t nat -A SKIFF_OUTPUT -d 169.254.169.254/32 -j RETURN",
        "iptables -t nat -A PREROUTING -p tcp -j SKIFF_INBOUND",
        "iptables -t nat -A OUTPUT -p tcp -j SKIFF_OUTPUT",
    ]:
        assert expected in lines, "%r missing from:\n%s" % (expected, result.stdout)
    # The IPv6 range belongs to ip6tables only, and --no-ipv6 left ip6tables out.
    assert not any("fd00::" in line or line.startswith("ip6tables") for line in lines)
    # The exemptions come before the catch-all redirect in SKIFF_OUTPUT.
    output_rules = [line for line in lines if "-A SKIFF_OUTPUT" in line]
    assert output_rules[-1].endswith("-j SKIFF_REDIRECT")


def test_dry_run_with_ipv6_and_chosen_inbound_ports():
    result = tool("install", "--proxy-uid", "7", "--dry-run", "--ipv6", "--inbound-ports",
                  "8080,9090", "--outbound-port", "16001", "--inbound-port", "16006")
    lines = result.stdout.splitlines()
    assert "ip6tables -t nat -A SKIFF_OUTPUT -d ::1/128 -j RETURN" in lines
    assert "ip6tables -t nat -A SKIFF_REDIRECT -p tcp -j REDIRECT --to-ports 16001" in lines
    assert "iptables -t nat -A SKIFF_INBOUND -p tcp --dport 8080 -j SKIFF_IN_REDIRECT" in lines
    assert "iptables -t nat -A SKIFF_INBOUND -p tcp --dport 9090 -j SKIFF_IN_REDIRECT" in lines
    # Only the listed ports are intercepted inbound: no catch-all jump.
    assert "iptables -t nat -A SKIFF_INBOUND -p tcp -j SKIFF_IN_REDIRECT" not in lines


def test_refuses_without_root_and_rejects_bad_arguments():
    result = subprocess.run(
        as_other_user(["/usr/bin/python3", IPTABLES_TOOL, "install", "--proxy-uid", "1337"]),
        capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "root" in result.stderr
    result = tool("install", "--proxy-uid", "1337", "--dry-run", "--exclude-outbound-ports",
                  "99999", check=False)
    assert result.returncode != 0 and "99999" in result.stderr
    result = tool("install", "--dry-run", check=False)  # --proxy-uid is required
    assert result.returncode != 0


@pytest.fixture
def network():
    if not os.access(harness.proxy_binary(), os.X_OK):
        pytest.skip("skiff-proxy not built")
    net = netns.Network().create()
    yield net
    net.teardown()


def nat_rules(pod, binary="iptables-save"):
    return pod.run([binary, "-t", "nat"]).stdout


def test_install_twice_leaves_one_set_and_remove_cleans_up(network):
    pod = network.add_pod("rules")
    first = tool("install", "--proxy-uid", "1337", pod=pod)
    assert "-A PREROUTING -p tcp -j SKIFF_INBOUND" in first.stdout
    second = tool("install", "--proxy-uid", "1337", pod=pod)
    # The second run refills its chains and adds no jump (they are there already).
    assert "-F SKIFF_OUTPUT" in second.stdout
    assert "-A OUTPUT" not in second.stdout and "-A PREROUTING" not in second.stdout
    for binary in ("iptables-save", "ip6tables-save"):
        rules = nat_rules(pod, binary)
        assert rules.count("-A PREROUTING -p tcp -j SKIFF_INBOUND") == 1, rules
        assert rules.count("-A OUTPUT -p tcp -j SKIFF_OUTPUT") == 1, rules
        assert rules.count("REDIRECT --to-ports 15001") == 1, rules
        assert rules.count("REDIRECT --to-ports 15006") == 1, rules
        assert rules.count("--uid-owner 1337") == 1, rules

    tool("remove", pod=pod)
    for binary in ("iptables-save", "ip6tables-save"):
        assert "SKIFF" not in nat_rules(pod, binary)
    again = tool("remove", pod=pod)  # nothing installed: still fine, and silent
    assert again.stdout == ""


# ---------------------------------------------------------------------------------------------
# A sidecar behind the rules


def prometheus(pod, port=15000):
    status, body = pod.http_get("http://127.0.0.1:%d/stats/prometheus" % port)
    assert status == 200, body
    return body


def metric(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})?\s+(\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def start_sidecar(network, pod, config, name="sidecar", extra_args=()):
    path = os.path.join(network.workdir, "%s-%s.yaml" % (pod.name, name))
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.chmod(path, 0o644)
    log = os.path.join(network.workdir, "%s-%s.log" % (pod.name, name))
    process = pod.popen([harness.proxy_binary(), "--config", path, "--concurrency", "1",
                         "--log-level", "info", *extra_args], uid=PROXY_UID, log_path=log)
    try:
        pod.wait_listening(15000)
    except AssertionError:
        raise AssertionError("sidecar did not start: %s" % harness.read_log(log))
    return process, log


def interception_config(server_pod):
    listener = {
        "use_original_dst": True,
        "tcp_proxy": {"cluster": "passthrough"},
        "destination_chains": [{
            "name": "tcp-echo-service",
            "addresses": [server_pod.ip, server_pod.ip6],
            "port": 7000,  # nothing listens there: only the chain's cluster can answer
            "tcp_proxy": {"cluster": "tcp-echo"},
        }],
    }
    return {
        "admin": {"address": harness.addr(15000)},
        "static_resources": {
            "listeners": [
                dict(listener, name="outbound", address=harness.addr(15001, "0.0.0.0")),
                dict(listener, name="outbound6", address=harness.addr(15001, "::")),
            ],
            "clusters": [
                {"name": "passthrough", "type": "ORIGINAL_DST"},
                {"name": "tcp-echo", "endpoints": [
                    {"address": harness.addr(9000, server_pod.ip)}]},
            ],
        },
    }


def tcp_exchange(pod, ip, port, payload="ping"):
    """An unmodified TCP client in `pod`: sends `payload`, half-closes, returns the reply."""
    family = "socket.AF_INET6" if ":" in ip else "socket.AF_INET"
    code = ("import socket\n"
            "s = socket.socket(%s)\n"
            "s.settimeout(5)\n"
            "s.connect((%r, %d))\n"
            "s.sendall(%r.encode())\n"
            "s.shutdown(socket.SHUT_WR)\n"
            "data = b''\n"
            "while True:\n"
            "    chunk = s.recv(65536)\n"
            "    if not chunk: break\n"
            "    data += chunk\n"
            "print(data.decode())\n" % (family, ip, port, payload))
    return pod.python(code, check=False)


@pytest.fixture
def intercepted(network):
    """Pod `app` with a sidecar behind skiff-iptables; pod `server` with plain HTTP and TCP
    echo apps and no proxy."""
    app = network.add_pod("app")
    server = network.add_pod("server")
    server.popen(netns.echo_http_app(8080, "server"),
                 log_path=os.path.join(network.workdir, "http.log"))
    server.popen(netns.echo_tcp_app(9000), log_path=os.path.join(network.workdir, "tcp.log"))
    server.wait_listening(8080)
    server.wait_listening(9000, host="::1")
    _, log = start_sidecar(network, app, interception_config(server))
    tool("install", "--proxy-uid", str(PROXY_UID), pod=app)
    return app, server, log


def test_plain_http_is_intercepted_and_passes_through(intercepted):
    app, server, log = intercepted
    before = prometheus(app)
    status, body = app.http_get("http://%s:8080/hello" % server.ip)
    assert status == 200, body
    assert '"server": "server"' in body and '"path": "/hello"' in body
    after = prometheus(app)
    # The app's connection went through the sidecar's outbound listener and the passthrough
    # cluster (it did not reach the server on its own).
    assert metric(after, "skiff_downstream_connections_total", listener="outbound") == \
        metric(before, "skiff_downstream_connections_total", listener="outbound") + 1
    assert metric(after, "skiff_upstream_connections_total", cluster="passthrough") == \
        metric(before, "skiff_upstream_connections_total", cluster="passthrough") + 1


def test_plain_http_over_ipv6_is_intercepted(intercepted):
    app, server, log = intercepted
    if "ip6tables" not in tool("install", "--proxy-uid", str(PROXY_UID), pod=app).stdout:
        pytest.skip("ip6tables has no nat table here")
    status, body = app.http_get("http://[%s]:8080/v6" % server.ip6)
    assert status == 200, body
    assert metric(prometheus(app), "skiff_downstream_connections_total", listener="outbound6") >= 1


def test_destination_chain_routes_a_tcp_service(intercepted):
    app, server, log = intercepted
    # Port 7000 on the server pod has no listener: only the chain's cluster (port 9000) answers.
    assert tcp_exchange(app, server.ip, 7000, "through the chain") == "through the chain"
    stats = prometheus(app)
    assert metric(stats, "skiff_upstream_connections_total", cluster="tcp-echo") == 1
    # Any other port to the same pod is not the chain's: it passes through to what is there.
    assert tcp_exchange(app, server.ip, 9000, "direct") == "direct"
    stats = prometheus(app)
    assert metric(stats, "skiff_upstream_connections_total", cluster="tcp-echo") == 1
    assert metric(stats, "skiff_upstream_connections_total", cluster="passthrough") >= 1


def test_unredirected_connection_to_passthrough_is_refused_not_looped(intercepted):
    app, server, log = intercepted
    # Loopback is exempt from the rules: this reaches the outbound listener directly, whose
    # "original destination" is then itself. Proxying it would connect back forever.
    reply = tcp_exchange(app, "127.0.0.1", 15001, "loop?")
    assert reply == ""
    stats = prometheus(app)
    assert metric(stats, "skiff_upstream_original_dst_refused_total", cluster="passthrough") == 1
    assert metric(stats, "skiff_upstream_connections_total", cluster="passthrough") == 0


def http_passthrough_config():
    """An HTTP outbound listener: requests for any host go back out to where the application
    sent them (ORIGINAL_DST through the router); what is not HTTP falls back to TCP."""
    listener = {
        "use_original_dst": True,
        "http": {"route_config": {"virtual_hosts": [{
            "name": "passthrough", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "passthrough"}}]}]}},
        "tcp_fallback": {"cluster": "passthrough"},
    }
    return {
        "admin": {"address": harness.addr(15000)},
        "static_resources": {
            "listeners": [dict(listener, name="outbound", address=harness.addr(15001))],
            "clusters": [{"name": "passthrough", "type": "ORIGINAL_DST"}],
        },
    }


def test_http_passthrough_routes_each_request_to_its_original_destination(network):
    app = network.add_pod("app")
    servers = [network.add_pod("one"), network.add_pod("two")]
    for pod in servers:
        pod.popen(netns.echo_http_app(8080, pod.name))
        pod.popen(netns.echo_tcp_app(9000))
    for pod in servers:
        pod.wait_listening(8080)
        pod.wait_listening(9000)
    start_sidecar(network, app, http_passthrough_config())
    tool("install", "--proxy-uid", str(PROXY_UID), pod=app)
    for pod in servers + servers:
        status, body = app.http_get("http://%s:8080/via-router" % pod.ip)
        assert status == 200, body
        assert '"server": "%s"' % pod.name in body
    # Not HTTP: the TCP fallback passes it through as well.
    assert tcp_exchange(app, servers[1].ip, 9000, "opaque bytes") == "opaque bytes"
    stats = prometheus(app)
    assert metric(stats, "skiff_downstream_requests_total", listener="outbound") >= 4
    assert metric(stats, "skiff_upstream_connections_total", cluster="passthrough") >= 3
    # A request sent straight to the listener has no destination to pass through to.
    status, body = app.http_get("http://127.0.0.1:15001/loop")
    assert status == 503, body
    assert metric(prometheus(app), "skiff_upstream_original_dst_refused_total",
                  cluster="passthrough") == 1
