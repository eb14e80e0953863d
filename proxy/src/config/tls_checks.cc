#include "config/tls_checks.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "config/field_checks.h"
#include "tls/spiffe.h"

namespace skiff::config {
namespace {

void alpnErrors(const google::protobuf::RepeatedPtrField<std::string>& protocols,
                const std::string& path, FieldErrors& errors) {
  for (int i = 0; i < protocols.size(); ++i) {
    if (protocols[i].empty() || protocols[i].size() > 255) {
      errors.emplace_back(absl::StrCat(path, "[", i, "]"),
                          "an ALPN protocol name has 1 to 255 bytes (e.g. \"h2\")");
    }
  }
}

}  // namespace

FieldErrors downstreamTlsErrors(const v1::DownstreamTlsContext& tls, const std::string& path) {
  FieldErrors errors;
  for (const auto& [port, mode] : tls.port_modes()) {
    if (port == 0 || port > 65535) {
      errors.emplace_back(absl::StrCat(path, ".port_modes[", port, "]"),
                          "the port must be 1 to 65535");
    }
  }
  alpnErrors(tls.alpn_protocols(), absl::StrCat(path, ".alpn_protocols"), errors);
  if (!tls.client_identity_header().empty()) {
    if (std::string reason = internal::checkMutableHeaderName(tls.client_identity_header());
        !reason.empty()) {
      errors.emplace_back(absl::StrCat(path, ".client_identity_header"), reason);
    }
  }
  return errors;
}

FieldErrors upstreamTlsErrors(const v1::UpstreamTlsContext& tls, const std::string& path) {
  FieldErrors errors;
  for (int i = 0; i < tls.allowed_identities_size(); ++i) {
    auto id = tls::parseSpiffeId(tls.allowed_identities(i));
    if (!id.ok()) {
      errors.emplace_back(absl::StrCat(path, ".allowed_identities[", i, "]"),
                          absl::StrFormat("\"%s\": %s", tls.allowed_identities(i),
                                          id.status().message()));
    }
  }
  alpnErrors(tls.alpn_protocols(), absl::StrCat(path, ".alpn_protocols"), errors);
  if (!tls.sni().empty()) {
    if (std::string reason = internal::checkHostName(tls.sni()); !reason.empty()) {
      errors.emplace_back(absl::StrCat(path, ".sni"), reason);
    }
  }
  return errors;
}

FieldErrors identityErrors(const v1::Identity& identity, const std::string& path) {
  FieldErrors errors;
  switch (identity.source_case()) {
    case v1::Identity::kStaticCertificate: {
      const auto& files = identity.static_certificate();
      const std::string base = absl::StrCat(path, ".static_certificate.");
      if (files.certificate_chain_file().empty()) {
        errors.emplace_back(base + "certificate_chain_file", "required (a PEM file, leaf first)");
      }
      if (files.private_key_file().empty()) {
        errors.emplace_back(base + "private_key_file", "required (a PEM file)");
      }
      if (files.trust_bundle_file().empty()) {
        errors.emplace_back(base + "trust_bundle_file",
                            "required (the PEM CA certificates peers must chain to)");
      }
      break;
    }
    case v1::Identity::kCertificateAuthority:
      break;  // checked by identity::IdentityManager::validate
    case v1::Identity::SOURCE_NOT_SET:
      errors.emplace_back(path,
                          "one of \"static_certificate\" or \"certificate_authority\" is required");
      break;
  }
  return errors;
}

}  // namespace skiff::config
