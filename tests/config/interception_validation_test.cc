// Validation of the interception settings: destination chains (addresses as IPs or CIDRs, port,
// a TCP proxy, use_original_dst) and ORIGINAL_DST clusters. Errors name the field's path.

#include <string>

#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::config {
namespace {

using ::testing::HasSubstr;

constexpr char kClusters[] = R"(
    - { name: backend, endpoints: [{ address: { address: 127.0.0.1, port: 18080 } }] }
    - { name: passthrough, type: ORIGINAL_DST })";

// Listener 0 is a plain one, so the interception listener is listeners[1].
std::string config(const std::string& outbound_extra, const std::string& clusters = kClusters) {
  return absl::StrCat(
      "static_resources:\n  listeners:\n"
      "    - { name: plain, address: { address: 127.0.0.1, port: 10000 },"
      " tcp_proxy: { cluster: backend } }\n"
      "    - { name: outbound, address: { address: 0.0.0.0, port: 15001 },"
      " tcp_proxy: { cluster: passthrough }, ",
      outbound_extra, " }\n  clusters: ", clusters, "\n");
}

std::string errorOf(const std::string& yaml) {
  auto result = parseBootstrapYaml(yaml);
  if (result.ok()) return "";
  return std::string(result.status().message());
}

TEST(InterceptionValidationTest, ValidChainsAndOriginalDstClusterPass) {
  std::string yaml = config(
      "use_original_dst: true, destination_chains: ["
      "{ name: db, addresses: [10.77.0.3, \"10.96.0.0/12\", \"fd77::/64\", \"::1\"], port: 5432,"
      "  tcp_proxy: { cluster: backend } },"
      "{ name: any, tcp_proxy: { cluster: passthrough } }]");
  EXPECT_EQ(errorOf(yaml), "");
}

TEST(InterceptionValidationTest, BadAddressNamesItsPath) {
  std::string yaml = config(
      "use_original_dst: true, destination_chains: [{ name: db, addresses: [10.0.0.1, "
      "\"10.0.0.0/40\"], tcp_proxy: { cluster: backend } }]");
  EXPECT_THAT(errorOf(yaml),
              HasSubstr("static_resources.listeners[1].destination_chains[0].addresses[1]: "
                        "\"10.0.0.0/40\" is not an IP or CIDR"));
  yaml = config(
      "use_original_dst: true, destination_chains: [{ name: db, addresses: [db.example],"
      " tcp_proxy: { cluster: backend } }]");
  EXPECT_THAT(errorOf(yaml),
              HasSubstr("listeners[1].destination_chains[0].addresses[0]: \"db.example\" is not "
                        "an IP or CIDR"));
}

TEST(InterceptionValidationTest, ChainsNeedUseOriginalDst) {
  std::string yaml = config("destination_chains: [{ name: db, tcp_proxy: { cluster: backend } }]");
  EXPECT_THAT(errorOf(yaml), HasSubstr("static_resources.listeners[1].destination_chains: needs "
                                       "use_original_dst: true"));
}

TEST(InterceptionValidationTest, ChainNeedsATcpProxyToAKnownCluster) {
  EXPECT_THAT(errorOf(config("use_original_dst: true, destination_chains: [{ name: db }]")),
              HasSubstr("listeners[1].destination_chains[0].tcp_proxy: required"));
  EXPECT_THAT(errorOf(config("use_original_dst: true, destination_chains: [{ name: db, "
                             "tcp_proxy: { cluster: nowhere } }]")),
              HasSubstr("listeners[1].destination_chains[0].tcp_proxy.cluster: unknown cluster "
                        "\"nowhere\""));
}

TEST(InterceptionValidationTest, ChainPortOutOfRange) {
  EXPECT_THAT(errorOf(config("use_original_dst: true, destination_chains: [{ name: db, "
                             "port: 70000, tcp_proxy: { cluster: backend } }]")),
              HasSubstr("listeners[1].destination_chains[0].port: 70000 is out of range"));
}

TEST(InterceptionValidationTest, OriginalDstClusterTakesNoEndpoints) {
  std::string clusters = R"(
    - { name: backend, endpoints: [{ address: { address: 127.0.0.1, port: 18080 } }] }
    - { name: passthrough, type: ORIGINAL_DST,
        endpoints: [{ address: { address: 127.0.0.1, port: 1 } }] })";
  EXPECT_THAT(errorOf(config("use_original_dst: true", clusters)),
              HasSubstr("static_resources.clusters[1].endpoints: must be empty for type "
                        "ORIGINAL_DST"));
}

}  // namespace
}  // namespace skiff::config
