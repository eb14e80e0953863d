// Validation of the mutual TLS settings: a listener's and a cluster's `tls`, and the bootstrap's
// `identity`. Errors name the field's path.

#include <string>

#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::config {
namespace {

using ::testing::HasSubstr;

constexpr char kIdentity[] =
    "identity: { static_certificate: { certificate_chain_file: /c.pem, private_key_file: /k.pem,"
    " trust_bundle_file: /ca.pem } }\n";

std::string config(const std::string& listener_tls, const std::string& cluster_tls,
                   const std::string& identity = kIdentity) {
  return absl::StrCat(
      identity,
      "static_resources:\n  listeners:\n"
      "    - { name: in, address: { address: 127.0.0.1, port: 10000 },"
      " tcp_proxy: { cluster: backend }",
      listener_tls.empty() ? "" : ", tls: " + listener_tls, " }\n  clusters:\n",
      "    - { name: backend, endpoints: [{ address: { address: 127.0.0.1, port: 18080 } }]",
      cluster_tls.empty() ? "" : ", tls: " + cluster_tls, " }\n");
}

std::string errorOf(const std::string& yaml) {
  auto result = parseBootstrapYaml(yaml);
  if (result.ok()) return "";
  return std::string(result.status().message());
}

TEST(TlsValidationTest, ValidSettingsPass) {
  EXPECT_EQ(errorOf(config("{ mode: PERMISSIVE, port_modes: { 8080: STRICT }, alpn_protocols: [h2]"
                           ", client_identity_header: x-client-id }",
                           "{ allowed_identities: [\"spiffe://cluster.local/ns/a/sa/b\"], "
                           "sni: backend.local }")),
            "");
}

TEST(TlsValidationTest, TlsWithoutIdentityNamesTheField) {
  std::string error = errorOf(config("{ mode: STRICT }", "{}", ""));
  EXPECT_THAT(error, HasSubstr("static_resources.listeners[0].tls: needs the bootstrap's identity"));
  EXPECT_THAT(error, HasSubstr("static_resources.clusters[0].tls: needs the bootstrap's identity"));
}

TEST(TlsValidationTest, BadAllowedIdentityNamesItsIndex) {
  EXPECT_THAT(errorOf(config("", "{ allowed_identities: [\"spiffe://a/b\", \"https://x/y\"] }")),
              HasSubstr("static_resources.clusters[0].tls.allowed_identities[1]: "
                        "\"https://x/y\": SPIFFE ID must start with spiffe://"));
}

TEST(TlsValidationTest, BadPortModeAlpnAndHeader) {
  std::string error = errorOf(config(
      "{ port_modes: { 70000: STRICT }, alpn_protocols: [\"\"], client_identity_header: "
      "\"bad header\" }",
      ""));
  EXPECT_THAT(error, HasSubstr("listeners[0].tls.port_modes[70000]: the port must be 1 to 65535"));
  EXPECT_THAT(error, HasSubstr("listeners[0].tls.alpn_protocols[0]"));
  EXPECT_THAT(error, HasSubstr("listeners[0].tls.client_identity_header"));
}

TEST(TlsValidationTest, StaticCertificateNeedsItsFiles) {
  std::string error =
      errorOf(config("{}", "", "identity: { static_certificate: { private_key_file: /k.pem } }\n"));
  EXPECT_THAT(error, HasSubstr("identity.static_certificate.certificate_chain_file: required"));
  EXPECT_THAT(error, HasSubstr("identity.static_certificate.trust_bundle_file: required"));
  EXPECT_THAT(error, ::testing::Not(HasSubstr("private_key_file")));
}

}  // namespace
}  // namespace skiff::config
