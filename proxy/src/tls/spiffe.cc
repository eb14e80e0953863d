#include "tls/spiffe.h"

#include <openssl/x509v3.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"

namespace skiff::tls {
namespace {

constexpr size_t kMaxSpiffeIdBytes = 2048;
constexpr absl::string_view kScheme = "spiffe://";

bool isTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool isPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '-' || c == '_';
}

}  // namespace

absl::StatusOr<SpiffeId> parseSpiffeId(absl::string_view uri) {
  if (uri.size() > kMaxSpiffeIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("SPIFFE ID longer than ", kMaxSpiffeIdBytes, " bytes"));
  }
  // The scheme is case-insensitive in URIs, but SPIFFE asks for the lower-case form.
  if (!absl::StartsWith(uri, kScheme)) {
    return absl::InvalidArgumentError("SPIFFE ID must start with spiffe://");
  }
  absl::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  absl::string_view trust_domain = rest.substr(0, slash);
  absl::string_view path = slash == absl::string_view::npos ? "" : rest.substr(slash);
  if (trust_domain.empty()) return absl::InvalidArgumentError("SPIFFE ID has no trust domain");
  for (char c : trust_domain) {
    if (c == ':') return absl::InvalidArgumentError("SPIFFE ID must not carry a port");
    if (c == '@') return absl::InvalidArgumentError("SPIFFE ID must not carry userinfo");
    if (!isTrustDomainChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("SPIFFE trust domain has a character outside [a-z0-9.-_]: '",
                       absl::string_view(&c, 1), "'"));
    }
  }
  SpiffeId id;
  id.trust_domain = std::string(trust_domain);
  id.path = std::string(path);
  id.uri = std::string(uri);
  if (path.empty()) return id;
  std::vector<absl::string_view> segments = absl::StrSplit(path.substr(1), '/');
  for (absl::string_view segment : segments) {
    if (segment.empty()) return absl::InvalidArgumentError("SPIFFE ID has an empty path segment");
    if (segment == "." || segment == "..") {
      return absl::InvalidArgumentError("SPIFFE ID has a relative path segment");
    }
    for (char c : segment) {
      if (c == '?') return absl::InvalidArgumentError("SPIFFE ID must not carry a query");
      if (c == '#') return absl::InvalidArgumentError("SPIFFE ID must not carry a fragment");
      if (!isPathChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("SPIFFE path has a character outside [A-Za-z0-9.-_]: '",
                         absl::string_view(&c, 1), "'"));
      }
    }
  }
  if (segments.size() == 4 && segments[0] == "ns" && segments[2] == "sa") {
    id.namespace_name = std::string(segments[1]);
    id.service_account = std::string(segments[3]);
  }
  return id;
}

std::string spiffeUriFromCertificate(X509* cert) {
  if (cert == nullptr) return "";
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return "";
  std::string found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && found.empty(); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    absl::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                          static_cast<size_t>(ASN1_STRING_length(value)));
    if (absl::StartsWith(uri, kScheme)) found = std::string(uri);
  }
  GENERAL_NAMES_free(names);
  return found;
}

}  // namespace skiff::tls
