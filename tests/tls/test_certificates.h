#pragma once

// Certificates made in memory with OpenSSL for the TLS tests: a P-256 CA and P-256 leaves with
// an optional URI SAN and a chosen validity window.

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <string>

#include "tls/certificate_bundle.h"

namespace skiff::tls::testing {

struct KeyAndCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  KeyAndCert() = default;
  KeyAndCert(const KeyAndCert&) = delete;
  KeyAndCert& operator=(const KeyAndCert&) = delete;
  KeyAndCert(KeyAndCert&& other) noexcept : key(other.key), cert(other.cert) {
    other.key = nullptr;
    other.cert = nullptr;
  }
  ~KeyAndCert() {
    EVP_PKEY_free(key);
    X509_free(cert);
  }
  std::string certPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    std::string out = drain(bio);
    return out;
  }
  std::string keyPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    return drain(bio);
  }

 private:
  static std::string drain(BIO* bio) {
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(length));
    BIO_free(bio);
    return out;
  }
};

inline EVP_PKEY* newP256Key() { return EVP_EC_gen("P-256"); }

inline void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

inline X509* newCertificate(EVP_PKEY* key, const std::string& common_name, long serial,
                            long not_before_seconds, long not_after_seconds) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before_seconds);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after_seconds);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  return cert;
}

inline KeyAndCert makeCa(const std::string& name) {
  KeyAndCert ca;
  ca.key = newP256Key();
  ca.cert = newCertificate(ca.key, name, 1, -3600, 86400);
  X509_set_issuer_name(ca.cert, X509_get_subject_name(ca.cert));
  addExtension(ca.cert, ca.cert, NID_basic_constraints, "critical,CA:TRUE");
  addExtension(ca.cert, ca.cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(ca.cert, ca.cert, NID_subject_key_identifier, "hash");
  X509_sign(ca.cert, ca.key, EVP_sha256());
  return ca;
}

// `uri` empty: no SAN. Validity relative to now, in seconds.
inline KeyAndCert makeLeaf(const KeyAndCert& ca, const std::string& uri,
                           long not_before_seconds = -3600, long not_after_seconds = 86400) {
  static long serial = 100;
  KeyAndCert leaf;
  leaf.key = newP256Key();
  leaf.cert = newCertificate(leaf.key, "leaf", ++serial, not_before_seconds, not_after_seconds);
  X509_set_issuer_name(leaf.cert, X509_get_subject_name(ca.cert));
  addExtension(leaf.cert, ca.cert, NID_basic_constraints, "critical,CA:FALSE");
  addExtension(leaf.cert, ca.cert, NID_key_usage, "critical,digitalSignature");
  addExtension(leaf.cert, ca.cert, NID_ext_key_usage, "serverAuth,clientAuth");
  if (!uri.empty()) {
    addExtension(leaf.cert, ca.cert, NID_subject_alt_name, ("URI:" + uri).c_str());
  }
  X509_sign(leaf.cert, ca.key, EVP_sha256());
  return leaf;
}

inline CertificateBundle bundleFor(const KeyAndCert& leaf, const KeyAndCert& trusted_ca) {
  CertificateBundle bundle;
  bundle.certificate_chain_pem = leaf.certPem();
  bundle.private_key_pem = leaf.keyPem();
  bundle.trust_bundle_pem = trusted_ca.certPem();
  return bundle;
}

}  // namespace skiff::tls::testing
