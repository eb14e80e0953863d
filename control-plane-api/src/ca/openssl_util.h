#pragma once

// Owning pointers for the OpenSSL objects the CA handles, and the conversions it needs
// (PEM in and out, ASN1 times, the last OpenSSL error as text).

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skiff::ca {

struct OpenSslFree {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
};
template <class T>
using OsslPtr = std::unique_ptr<T, OpenSslFree>;

// The oldest queued OpenSSL error as text ("" when none); clears the queue.
std::string lastOpenSslError();

absl::StatusOr<std::string> readFile(const std::string& path);
// Every CERTIFICATE block of `pem`, in order; an error when there is none.
absl::StatusOr<std::vector<OsslPtr<X509>>> parseCertificates(const std::string& pem);
absl::StatusOr<OsslPtr<EVP_PKEY>> parsePrivateKey(const std::string& pem);
std::string certificatePem(X509* cert);
std::string privateKeyPem(EVP_PKEY* key);

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* time);
// "CN=..., O=..." (RFC 2253 order).
std::string nameToString(const X509_NAME* name);
bool isSelfSigned(X509* cert);

}  // namespace skiff::ca
