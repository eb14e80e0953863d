"""tools/bench-mtls measures what it claims: its certificates are P-256 with SPIFFE URI SANs,
its "new" path costs one full mutual TLS handshake per request and its "reuse" path keeps
the connection, for each product; its docs section keeps the others."""

import http.client
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import types

import pytest

import harness
import upstreams

BENCH_MTLS = os.path.join(harness.REPO_ROOT, "tools", "bench-mtls")


def load_bench_mtls():
    loader = importlib.machinery.SourceFileLoader("bench_mtls_under_test", BENCH_MTLS)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name,
                                                                             loader))
    loader.exec_module(module)
    return module


bench_mtls = load_bench_mtls()


class NoPinning:
    enabled = False

    def wrap(self, cpu, args):
        return args


@pytest.fixture
def certs(tmp_path):
    return bench_mtls.make_certificates(str(tmp_path))


def test_certificates_are_p256_with_spiffe_sans(certs):
    for name in ("a", "b"):
        text = subprocess.run(["openssl", "x509", "-in", certs[name]["cert"], "-noout", "-text"],
                              capture_output=True, text=True, check=True).stdout
        assert "prime256v1" in text
        assert "URI:spiffe://%s/ns/bench/sa/proxy-%s" % (bench_mtls.TRUST_DOMAIN, name) in text
        assert "TLS Web Client Authentication" in text
        assert "TLS Web Server Authentication" in text
        verify = subprocess.run(["openssl", "verify", "-CAfile", certs["ca"], certs[name]["cert"]],
                                capture_output=True, text=True)
        assert verify.returncode == 0, verify.stdout + verify.stderr


def count_handshakes(topology, path, requests):
    """Sends `requests` requests on one keep-alive client connection through A's `path`;
    returns (A->B connections A opened on the new path, handshakes B completed)."""
    connections0, handshakes0 = topology.connections_to_b(), topology.handshakes_at_b()
    port = topology.ports["a_new" if path == "new" else "a_reuse"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for _ in range(requests):
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    conn.close()
    return (topology.connections_to_b() - connections0,
            topology.handshakes_at_b() - handshakes0)


@pytest.mark.parametrize("product", bench_mtls.PRODUCTS)
def test_new_path_costs_one_handshake_per_request(product, certs, tmp_path, upstream):
    if product == "haproxy" and not shutil.which("haproxy"):
        pytest.skip("haproxy is not installed (tools/setup installs it)")
    args = types.SimpleNamespace(skiff=harness.proxy_binary())
    topology = bench_mtls.Topology(product, args, NoPinning(), str(tmp_path), certs,
                                   upstream.port)
    try:
        # Topology already checked that both paths answer 200 and B refuses plaintext.
        assert count_handshakes(topology, "new", 20) == (20, 20)
        connections, handshakes = count_handshakes(topology, "reuse", 20)
        assert handshakes <= 1
        facts = bench_mtls.s_client_facts(topology, certs)
        assert facts["protocol"].startswith("TLSv1.3"), facts
        assert facts["status"] == "200", facts
    finally:
        topology.stop()
    if product == "skiff":  # HAProxy -db dies by SIGTERM itself
        assert [p.proc.returncode for p in topology.procs] == [0, 0], topology.output()


def test_splice_replaces_only_the_mtls_section(tmp_path):
    bench = bench_mtls.bench
    doc = "\n\n".join(["# Benchmarks\n\nh1 table", bench.H2_MARKER + "\n\nh2 table",
                       bench.XDS_MARKER + "\n\nxds table\n"])
    first = bench_mtls.splice(doc, bench.MTLS_MARKER + "\n\nmtls one\n")
    second = bench_mtls.splice(first, bench.MTLS_MARKER + "\n\nmtls two\n")
    assert "mtls one" not in second and second.count(bench.MTLS_MARKER) == 1
    order = [second.index(s) for s in ("h1 table", "h2 table", "mtls two", "xds table")]
    assert order == sorted(order)
    # tools/bench rewriting the HTTP/2 section keeps the mTLS section.
    path = str(tmp_path / "benchmarks.md")
    bench.splice_markdown(path, second, False, bench.H2_MARKER + "\n\nnew h2\n")
    with open(path) as fh:
        text = fh.read()
    order = [text.index(s) for s in ("h1 table", "new h2", "mtls two", "xds table")]
    assert order == sorted(order) and "h2 table" not in text
