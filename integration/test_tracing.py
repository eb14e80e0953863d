"""Trace context, end to end: real skiff-proxy processes with http.tracing, an upstream that
records the headers it receives, access logs, the malformed-header counter, and a mesh through
skiff-control where two sidecar hops keep one trace.

What every request that leaves a listener with `tracing` carries: a W3C traceparent
"00-{trace id}-{this hop's span id}-{flags}" keeping the incoming trace id (or a new one), the
incoming tracestate when its traceparent was used, and B3 headers for this hop when the request
came with B3 (keep_b3, the default). Spans are not exported yet (docs/observability.md)."""

import http.client
import json
import os
import re
import time

import pytest

import harness
from harness import bootstrap, cluster, curl_json, header_values, http_listener, route, vhost
from mesh_harness import ControlPlane, FrontendBackendMesh, stop_control_plane, wait_for

pytestmark = pytest.mark.skipif(
    not os.access(harness.proxy_binary(), os.X_OK), reason="skiff-proxy not built")

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
CLIENT_TRACEPARENT = "00-%s-%s-01" % (CLIENT_TRACE, CLIENT_SPAN)


def traced_config(upstream_port, tracing=None, **listener_extra):
    return bootstrap([http_listener([vhost([route("backend")])], tracing=tracing or {},
                                    **listener_extra)],
                     [cluster("backend", [upstream_port])])


def sent_traceparent(echo):
    """(trace id, parent id, flags) of the one traceparent the upstream received."""
    values = header_values(echo, "traceparent")
    assert len(values) == 1, echo["headers"]
    match = TRACEPARENT.match(values[0])
    assert match, values[0]
    return match.groups()


def get(port, headers_list, path="/"):
    """Requests on one keep-alive connection; yields each upstream echo (parsed JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for headers in headers_list:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, (response.status, body)
            yield json.loads(body)
    finally:
        conn.close()


def read_log_lines(path, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        if os.path.exists(path):
            lines = [json.loads(l) for l in open(path).read().splitlines() if l.strip()]
            if len(lines) >= want:
                break
        time.sleep(0.05)
    return lines


# ---------------------------------------------------------------------------------------------
# One proxy.

def test_incoming_traceparent_keeps_its_trace_and_gets_this_hops_span(proxy_factory, upstream):
    proxy = proxy_factory(traced_config(upstream.port))
    status, echo, _ = curl_json(proxy.url("/"), "-H", "traceparent: " + CLIENT_TRACEPARENT,
                                "-H", "tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    assert status == 200
    trace, parent, flags = sent_traceparent(echo)
    assert trace == CLIENT_TRACE
    assert parent != CLIENT_SPAN  # this hop's own span
    assert flags == "01"  # the caller sampled it: so do we, whatever the ratio (1%)
    assert header_values(echo, "tracestate") == ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]


def test_no_trace_header_starts_a_new_trace_per_request(proxy_factory, upstream):
    proxy = proxy_factory(traced_config(upstream.port))
    traces = set()
    for echo in get(proxy.port(), [{}] * 5):
        trace, parent, _ = sent_traceparent(echo)
        assert trace != "0" * 32 and parent != "0" * 16
        traces.add(trace)
        assert header_values(echo, "b3") == [] and header_values(echo, "tracestate") == []
    assert len(traces) == 5


def test_without_tracing_trace_headers_pass_untouched(proxy_factory, upstream):
    proxy = proxy_factory(harness.simple_http_config(upstream.port))
    status, echo, _ = curl_json(proxy.url("/"), "-H", "traceparent: " + CLIENT_TRACEPARENT)
    assert status == 200
    assert header_values(echo, "traceparent") == [CLIENT_TRACEPARENT]
    status, echo, _ = curl_json(proxy.url("/"))
    assert header_values(echo, "traceparent") == []


MALFORMED_W3C = [
    "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # upper case
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # all-zero trace id
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # all-zero parent id
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # version ff
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",   # short parent id
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",  # v00 with more
    "garbage",
]
MALFORMED_B3 = [
    "0af7651916cd43dd8448eb211c80319c",                       # no span id
    "0af7651916cd43dd-B7AD6B7169203331-1",                    # upper case
    "0af7651916cd43dd-b7ad6b7169203331-x",                    # sampling state
]


def test_malformed_headers_start_a_new_trace_and_are_counted(proxy_factory, upstream):
    proxy = proxy_factory(traced_config(upstream.port))
    requests = [{"traceparent": v, "tracestate": "congo=t61rcWkgMzE"} for v in MALFORMED_W3C]
    requests += [{"b3": v} for v in MALFORMED_B3]
    requests.append({"x-b3-traceid": CLIENT_TRACE})  # half a multi-header context
    traces = set()
    for echo in get(proxy.port(), requests):  # every one 200
        trace, _, _ = sent_traceparent(echo)
        assert trace != CLIENT_TRACE and not trace.startswith("0af7651916cd43dd"), trace
        assert header_values(echo, "tracestate") == []  # it belonged to the ignored traceparent
        traces.add(trace)
    assert len(traces) == len(requests)
    assert proxy.metric("skiff_tracing_malformed_headers_total", listener="http",
                        format="w3c") == len(MALFORMED_W3C)
    assert proxy.metric("skiff_tracing_malformed_headers_total", listener="http",
                        format="b3") == len(MALFORMED_B3) + 1


def test_b3_in_gives_w3c_out_and_b3_kept(proxy_factory, upstream):
    proxy = proxy_factory(traced_config(upstream.port))
    b3_trace, b3_span = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1"
    single, multi, short = get(proxy.port(), [
        {"b3": "%s-%s-1-05e3ac9a4f6e3b90" % (b3_trace, b3_span)},
        {"x-b3-traceid": b3_trace, "x-b3-spanid": b3_span, "x-b3-sampled": "1"},
        {"b3": "64fe8b2a57d3eff7-%s-1" % b3_span},
    ])
    trace, span, flags = sent_traceparent(single)
    assert (trace, flags) == (b3_trace, "01")
    assert header_values(single, "b3") == ["%s-%s-1-%s" % (b3_trace, span, b3_span)]

    trace, span, flags = sent_traceparent(multi)
    assert (trace, flags) == (b3_trace, "01")
    assert header_values(multi, "x-b3-traceid") == [b3_trace]
    assert header_values(multi, "x-b3-spanid") == [span]
    assert header_values(multi, "x-b3-parentspanid") == [b3_span]
    assert header_values(multi, "x-b3-sampled") == ["1"]
    assert header_values(multi, "b3") == []

    # A 64-bit B3 trace id: padded in traceparent, kept 64-bit in B3.
    trace, span, _ = sent_traceparent(short)
    assert trace == "0" * 16 + "64fe8b2a57d3eff7"
    assert header_values(short, "b3") == ["64fe8b2a57d3eff7-%s-1-%s" % (span, b3_span)]


def test_b3_dropped_when_configured(proxy_factory, upstream):
    proxy = proxy_factory(traced_config(upstream.port, {"keep_b3": False}))
    (echo,) = get(proxy.port(), [{"b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"}])
    assert sent_traceparent(echo)[0] == "80f198ee56343ba864fe8b2a57d3eff7"
    assert header_values(echo, "b3") == []


def test_sampling_ratio_parent_decisions_and_forcing(proxy_factory, upstream):
    proxy = proxy_factory(traced_config(upstream.port, {"sampling_ratio": 0.25}), concurrency=2)
    count = 2000
    flags = [sent_traceparent(echo)[2] for echo in get(proxy.port(), [{}] * count)]
    sampled = flags.count("01") / count
    # 2000 draws at 25%: one standard deviation is about 1%.
    assert abs(sampled - 0.25) < 0.04, sampled

    not_sampled = "00-%s-%s-00" % (CLIENT_TRACE, CLIENT_SPAN)
    parent_no, parent_yes, forced, b3_debug = get(proxy.port(), [
        {"traceparent": not_sampled},
        {"traceparent": CLIENT_TRACEPARENT},
        {"traceparent": not_sampled, "x-skiff-force-trace": "1"},
        {"b3": "d"},
    ])
    assert sent_traceparent(parent_no)[2] == "00"
    assert sent_traceparent(parent_yes)[2] == "01"
    assert sent_traceparent(forced)[2] == "01"
    assert sent_traceparent(forced)[0] == CLIENT_TRACE
    assert sent_traceparent(b3_debug)[2] == "01"
    assert header_values(b3_debug, "b3")[0].split("-")[2] == "d"


def test_access_log_has_trace_and_span_ids(proxy_factory, upstream, tmp_path):
    log_path = str(tmp_path / "access.log")
    proxy = proxy_factory(traced_config(upstream.port, access_log={"path": log_path}))
    traced, fresh = get(proxy.port(), [{"traceparent": CLIENT_TRACEPARENT}, {}])
    entries = read_log_lines(log_path, 2)
    assert len(entries) == 2, entries
    for entry, echo in zip(entries, (traced, fresh)):
        trace, span, _ = sent_traceparent(echo)
        assert (entry["trace_id"], entry["span_id"]) == (trace, span)
    assert entries[0]["trace_id"] == CLIENT_TRACE


def test_two_hops_chain_their_spans(proxy_factory, upstream, tmp_path):
    """Client -> listener "a" -> listener "b" -> upstream: each hop's parent is the span of the
    hop before it (the client's span for the first), and all share the client's trace."""
    port_b = harness.free_port()
    logs = {name: str(tmp_path / ("%s.log" % name)) for name in ("a", "b")}
    config = bootstrap(
        [http_listener([vhost([route("to_b")])], name="a", tracing={},
                       access_log={"path": logs["a"]}),
         http_listener([vhost([route("backend")])], name="b", port=port_b, tracing={},
                       access_log={"path": logs["b"]})],
        [cluster("to_b", [port_b]), cluster("backend", [upstream.port])])
    proxy = proxy_factory(config)
    (echo,) = get(proxy.port("a"), [{"traceparent": CLIENT_TRACEPARENT}])
    (a,) = read_log_lines(logs["a"], 1)
    (b,) = read_log_lines(logs["b"], 1)
    trace, parent, _ = sent_traceparent(echo)
    assert a["trace_id"] == b["trace_id"] == trace == CLIENT_TRACE
    assert len({CLIENT_SPAN, a["span_id"], b["span_id"]}) == 3
    assert parent == b["span_id"]  # what b sent upstream names b's span
    # b's parent is a's span. The log has no parent field, and traceparent names one span only;
    # B3 names both, so send one with B3: b's answer is "{trace}-{b's span}-1-{b's parent}".
    (echo,) = get(proxy.port("a"), [{"b3": "%s-%s-1" % (CLIENT_TRACE, CLIENT_SPAN)}])
    a, b = read_log_lines(logs["a"], 2)[1], read_log_lines(logs["b"], 2)[1]
    assert header_values(echo, "b3") == ["%s-%s-1-%s" % (CLIENT_TRACE, b["span_id"],
                                                         a["span_id"])]


def test_invalid_tracing_settings_are_refused_with_their_path(proxy_factory, upstream):
    proxy = proxy_factory(traced_config(upstream.port, {"sampling_ratio": 1.5}), start=False)
    with pytest.raises(harness.ProxyError) as e:
        proxy.start(timeout=5)
    assert "http.tracing.sampling_ratio: 1.5 is out of range" in str(e.value), str(e.value)
    proxy = proxy_factory(traced_config(upstream.port, {"accept": ["W3C", "W3C"]}), start=False)
    with pytest.raises(harness.ProxyError) as e:
        proxy.start(timeout=5)
    assert "http.tracing.accept[1]: W3C is listed twice" in str(e.value), str(e.value)


# ---------------------------------------------------------------------------------------------
# The mesh: skiff-control puts tracing on every sidecar listener.

class TracedMesh(FrontendBackendMesh):
    def call(self, headers):
        """From the frontend's application to the backend service: (status, upstream echo)."""
        response, body = self.request("/", headers)
        return response.status, (json.loads(body) if response.status == 200 else body)


@pytest.fixture
def traced_mesh(tmp_path, http_upstream_factory, proxy_factory, request):
    m = TracedMesh(tmp_path, http_upstream_factory, proxy_factory)
    yield m
    stop_control_plane(m.control, request)


def test_mesh_two_sidecar_hops_keep_one_trace(traced_mesh):
    mesh = traced_mesh
    mesh.dir.write("settings.yaml", {"settings": {"tracing": {"sampling_ratio": 1.0}}})
    mesh.start()
    wait_for(lambda: mesh.call({})[0] == 200, timeout=15, what="frontend -> backend 200")

    # A client span (P0) through the frontend's outbound sidecar (span S1, parent P0) and the
    # backend's inbound sidecar (span S2, parent S1) to the backend application. B3 comes along
    # so the application also sees its hop's parent (B3 names it; traceparent does not).
    status, echo = mesh.call({"traceparent": CLIENT_TRACEPARENT,
                              "b3": "%s-%s-1" % (CLIENT_TRACE, CLIENT_SPAN)})
    assert status == 200, echo
    trace, s2, flags = sent_traceparent(echo)
    assert (trace, flags) == (CLIENT_TRACE, "01")
    b3_trace, b3_span, b3_sampled, s1 = header_values(echo, "b3")[0].split("-")
    assert (b3_trace, b3_span, b3_sampled) == (CLIENT_TRACE, s2, "1")
    # Two hops, two new spans: S1 is neither the client's span nor the last hop's.
    assert len({CLIENT_SPAN, s1, s2}) == 3

    # A new trace started by the frontend's sidecar, decided by the mesh's ratio (1.0 here,
    # over the proxies' 1% default), is kept by the backend's.
    status, echo = mesh.call({})
    trace, _, flags = sent_traceparent(echo)
    assert flags == "01"
    assert trace != CLIENT_TRACE
    for node in mesh.NODES:
        assert mesh.proxies[node].metric("skiff_tracing_malformed_headers_total",
                                         default=0) == 0


def test_invalid_mesh_tracing_is_refused_with_file_and_field(traced_mesh):
    mesh = traced_mesh
    mesh.dir.write("settings.yaml", {"settings": {"tracing": {"sampling_ratio": 2}}})
    control = ControlPlane(mesh.dir.path, str(mesh.tmp_path))
    with pytest.raises(harness.ProxyError) as e:
        control.start(timeout=5)
    assert "settings.yaml: settings.tracing.sampling_ratio: 2 is out of range" in str(e.value), \
        str(e.value)
