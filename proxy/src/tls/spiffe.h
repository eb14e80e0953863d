#pragma once

// SPIFFE identities: spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT, carried as a URI
// subjectAltName in every mesh certificate.
#include <openssl/x509.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::tls {

struct SpiffeId {
  std::string trust_domain;
  // Everything after the trust domain, starting with '/' ("" for the trust domain's own id).
  std::string path;
  // From a path of the form /ns/<ns>/sa/<sa>; empty otherwise.
  std::string namespace_name;
  std::string service_account;
  // The whole URI, as given.
  std::string uri;
};

// Checks the SPIFFE ID rules: scheme "spiffe", a lower-case trust domain of [a-z0-9.-_], path
// segments non-empty and of [A-Za-z0-9.-_], no query, fragment, port or userinfo, at most 2048
// bytes.
absl::StatusOr<SpiffeId> parseSpiffeId(absl::string_view uri);

// The first spiffe:// URI subjectAltName of the certificate, or "" when there is none.
std::string spiffeUriFromCertificate(X509* cert);

}  // namespace skiff::tls
