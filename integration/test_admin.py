"""The admin server and the --validate command line."""

import glob
import json
import os
import shutil
import subprocess

import pytest

from harness import REPO_ROOT, curl, proxy_binary, simple_http_config


def test_ready(proxy):
    assert proxy.admin("GET", "/ready") == (200, "LIVE\n")


def test_unknown_path_and_wrong_method(proxy):
    assert proxy.admin("GET", "/no-such-page")[0] == 404
    assert proxy.admin("POST", "/stats/prometheus", data=b"")[0] == 405


def test_prometheus_passes_promtool(proxy):
    curl(["-o", "/dev/null", proxy.url("/warm")])
    text = proxy.metrics_text()
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed")
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=30)
    assert result.returncode == 0, (result.stdout + result.stderr).decode() + "\n" + text


def test_metric_families_present(proxy):
    curl(["-o", "/dev/null", proxy.url("/warm")])
    text = proxy.metrics_text()
    for family in [
            "skiff_downstream_connections_total", "skiff_downstream_connections_active",
            "skiff_downstream_requests_total", "skiff_downstream_requests_active",
            "skiff_downstream_request_duration_seconds", "skiff_downstream_bytes_received_total",
            "skiff_downstream_bytes_sent_total", "skiff_downstream_protocol_errors_total",
            "skiff_upstream_requests_total", "skiff_upstream_request_duration_seconds",
            "skiff_upstream_requests_active", "skiff_upstream_connections_total",
            "skiff_upstream_connections_active", "skiff_upstream_connect_failures_total",
            "skiff_upstream_connect_timeouts_total", "skiff_upstream_connections_reused_total",
            "skiff_upstream_request_timeouts_total", "skiff_upstream_hosts",
            "skiff_upstream_lb_no_host_total", "skiff_server_workers",
            "skiff_server_uptime_seconds", "skiff_server_draining"]:
        assert "# TYPE %s " % family in text, family
    assert "skiff_downstream_request_duration_seconds_bucket{" in text


def test_counters_move_with_traffic(proxy):
    def snapshot():
        return (proxy.metric("skiff_downstream_requests_total", default=0.0, listener="http",
                             code="200"),
                proxy.metric("skiff_upstream_requests_total", default=0.0, cluster="backend",
                             code="200"),
                proxy.metric("skiff_downstream_request_duration_seconds_count", default=0.0,
                             listener="http"),
                proxy.metric("skiff_downstream_bytes_sent_total", default=0.0, listener="http"))

    before = snapshot()
    args = []
    for i in range(5):
        args += ["-o", "/dev/null", proxy.url("/count/%d" % i)]
    curl(args)
    after = snapshot()
    assert after[0] - before[0] == 5, (before, after)
    assert after[1] - before[1] == 5, (before, after)
    assert after[2] - before[2] == 5, (before, after)
    assert after[3] > before[3]
    assert proxy.metric("skiff_server_workers") == 1
    assert proxy.metric("skiff_server_draining") == 0
    assert proxy.metric("skiff_upstream_hosts", cluster="backend") == 1


def test_config_dump(proxy, upstream):
    status, body = proxy.admin("GET", "/config_dump")
    assert status == 200
    dump = json.loads(body)
    text = json.dumps(dump)
    assert "static_resources" in dump or "staticResources" in dump, text[:500]
    assert "backend" in text and str(upstream.port) in text


def test_clusters(proxy, upstream):
    data = proxy.admin_json("/clusters")
    clusters = {c["name"]: c for c in data["clusters"]}
    backend = clusters["backend"]
    assert backend["type"] == "STATIC"
    assert backend["lb_policy"] == "ROUND_ROBIN"
    assert [h["address"] for h in backend["hosts"]] == ["127.0.0.1:%d" % upstream.port]
    assert backend["hosts"][0]["weight"] == 1


def test_listeners_report_bound_port(proxy):
    data = proxy.admin_json("/listeners")
    assert [l["name"] for l in data["listeners"]] == ["http"]
    host, port = data["listeners"][0]["address"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    # And that port really serves.
    result = curl(["-o", "/dev/null", "-w", "%{http_code}",
                   "http://127.0.0.1:%s/" % port])
    assert result.stdout_text == "200"


def _validate(path):
    return subprocess.run([proxy_binary(), "--validate", str(path)], capture_output=True,
                          timeout=30)


EXAMPLES = sorted(glob.glob(os.path.join(REPO_ROOT, "examples", "*.yaml")))


def test_examples_exist():
    assert EXAMPLES, "examples/*.yaml is empty"


@pytest.mark.parametrize("example", EXAMPLES, ids=os.path.basename)
def test_validate_accepts_examples(example):
    result = _validate(example)
    assert result.returncode == 0, result.stderr.decode()
    assert b"OK" in result.stdout, result.stdout


def test_validate_accepts_generated_config(tmp_path):
    import yaml
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(simple_http_config(18080)))
    result = _validate(path)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("mutation,expected", [
    (lambda c: c["static_resources"]["clusters"][0]["endpoints"][0].update(
        adress={"address": "127.0.0.1", "port": 1}),
     "static_resources.clusters[0].endpoints[0].adress"),
    (lambda c: c["static_resources"]["listeners"][0]["http"]["route_config"]
     ["virtual_hosts"][0]["routes"][0]["route"].update(timeout="soon"),
     "static_resources.listeners[0].http.route_config.virtual_hosts[0].routes[0].route.timeout"),
    (lambda c: c["static_resources"]["clusters"][0].update(lb_policy="FASTEST"),
     "static_resources.clusters[0].lb_policy"),
], ids=["unknown_field", "bad_duration", "bad_enum"])
def test_validate_rejects_broken_config_naming_the_field(tmp_path, mutation, expected):
    import yaml
    config = simple_http_config(18080)
    mutation(config)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    result = _validate(path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert expected in result.stderr.decode(), result.stderr.decode()


def test_validate_rejects_unknown_cluster_reference(tmp_path):
    import yaml
    config = simple_http_config(18080)
    config["static_resources"]["clusters"][0]["name"] = "renamed"
    path = tmp_path / "dangling.yaml"
    path.write_text(yaml.safe_dump(config))
    result = _validate(path)
    assert result.returncode == 1
    assert "backend" in result.stderr.decode()


def test_config_with_broken_field_does_not_start(proxy_factory, upstream):
    config = simple_http_config(upstream.port)
    config["static_resources"]["clusters"][0]["endpoints"][0]["adress"] = "x"
    proxy = proxy_factory(config, start=False)
    from harness import ProxyError
    with pytest.raises(ProxyError) as excinfo:
        proxy.start(timeout=5)
    assert "adress" in str(excinfo.value)
