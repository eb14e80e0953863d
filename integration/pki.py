"""Static test certificates made with the `openssl` command at test time: ECDSA P-256 CAs and
leaves with SPIFFE URI SANs, and the bootstrap `identity` block that points a proxy at them."""

import os
import subprocess


def _openssl(*args, cwd):
    out = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, "openssl %s:\n%s" % (" ".join(args), out.stderr)
    return out.stdout


def make_ca(d, name):
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _openssl("genpkey", *ec, "-out", name + ".key", cwd=d)
    _openssl("req", "-x509", "-new", "-key", name + ".key", "-sha256", "-days", "2",
             "-subj", "/O=skiff-test/CN=" + name, "-out", name + ".pem", cwd=d)


def make_leaf(d, ca, name, uri, days="2"):
    ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
        if uri:
            f.write("subjectAltName=URI:%s\n" % uri)
    _openssl("genpkey", *ec, "-out", name + ".key", cwd=d)
    _openssl("req", "-new", "-key", name + ".key", "-subj", "/O=skiff-test/CN=" + name,
             "-out", name + ".csr", cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
             "-CAcreateserial", "-days", days, "-sha256", "-extfile", ext,
             "-out", name + ".pem", cwd=d)


def identity(certs, name, trust="ca"):
    return {"static_certificate": {
        "certificate_chain_file": os.path.join(certs, name + ".pem"),
        "private_key_file": os.path.join(certs, name + ".key"),
        "trust_bundle_file": os.path.join(certs, trust + ".pem")}}
