#pragma once

// Keys, CSRs and verification for the CA tests, made with OpenSSL directly (independently of
// the code under test).

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <string>

#include "ca/openssl_util.h"

namespace skiff::ca::testing {

inline OsslPtr<EVP_PKEY> ecKey(const char* curve = "P-256") {
  return OsslPtr<EVP_PKEY>(EVP_EC_gen(curve));
}

inline OsslPtr<EVP_PKEY> rsaKey() { return OsslPtr<EVP_PKEY>(EVP_RSA_gen(2048)); }

// A CSR for `public_key`, signed by `signer` (the same key for a valid CSR), with a subject and
// a DNS SAN the CA must ignore.
inline std::string csrPem(EVP_PKEY* public_key, EVP_PKEY* signer) {
  OsslPtr<X509_REQ> request(X509_REQ_new());
  X509_REQ_set_version(request.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(request.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("evil.example"), -1, -1, 0);
  STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(extensions, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name,
                                                         "URI:spiffe://evil/ns/x/sa/admin"));
  sk_X509_EXTENSION_push(extensions,
                         X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "CA:TRUE"));
  X509_REQ_add_extensions(request.get(), extensions);
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  X509_REQ_set_pubkey(request.get(), public_key);
  X509_REQ_sign(request.get(), signer, EVP_sha256());
  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), request.get());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

inline std::string csrPem(EVP_PKEY* key) { return csrPem(key, key); }

// A CA certificate for `key` named CN=`name`, signed by `issuer`/`issuer_key` (self-signed when
// they are null).
inline OsslPtr<X509> caCert(EVP_PKEY* key, const char* name, X509* issuer, EVP_PKEY* issuer_key) {
  OsslPtr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365);
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, signer, cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            {NID_key_usage, "critical,keyCertSign,cRLSign"},
                            {NID_subject_key_identifier, "hash"}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    X509_add_ext(cert.get(), extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

inline void writeFile(const std::string& path, const std::string& content) {
  FILE* f = fopen(path.c_str(), "w");
  fwrite(content.data(), 1, content.size(), f);
  fclose(f);
}

inline std::string tempDir() {
  char path[] = "/tmp/skiff-ca-test-XXXXXX";
  return mkdtemp(path);
}

// X509_V_OK when the chain's leaf verifies against `roots_pem` for TLS `purpose`, with the
// chain's other certificates as untrusted intermediates.
inline int verifyChain(const std::string& chain_pem, const std::string& roots_pem,
                       int purpose = X509_PURPOSE_SSL_CLIENT) {
  auto chain = parseCertificates(chain_pem);
  auto roots = parseCertificates(roots_pem);
  if (!chain.ok() || !roots.ok()) return -1;
  X509_STORE* store = X509_STORE_new();
  for (auto& root : *roots) X509_STORE_add_cert(store, root.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain->size(); ++i) sk_X509_push(untrusted, (*chain)[i].get());
  X509_STORE_CTX* context = X509_STORE_CTX_new();
  X509_STORE_CTX_init(context, store, (*chain)[0].get(), untrusted);
  X509_STORE_CTX_set_purpose(context, purpose);
  int result = X509_verify_cert(context) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(context);
  X509_STORE_CTX_free(context);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  return result;
}

}  // namespace skiff::ca::testing
