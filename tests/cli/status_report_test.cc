#include "status_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "skiff/config/v1/listener.pb.h"

namespace skiff::cli {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

control::v1::ListProxiesResponse twoProxies() {
  control::v1::ListProxiesResponse status;
  status.set_mesh_version("0123456789abcdef");
  auto* synced = status.add_proxies();
  synced->mutable_node()->set_id("frontend-0");
  synced->mutable_node()->set_workload("frontend");
  synced->set_stream_type("DELTA");
  synced->set_synced_version("0123456789abcdef");
  auto* listeners = synced->add_types();
  listeners->set_type_url("type.googleapis.com/skiff.config.v1.Listener");
  listeners->set_sent_version("aaaaaaaa11");
  listeners->set_acked_version("aaaaaaaa11");

  auto* nacking = status.add_proxies();
  nacking->mutable_node()->set_id("backend-v1-0");
  nacking->set_stream_type("STATE_OF_THE_WORLD");
  auto* routes = nacking->add_types();
  routes->set_type_url("type.googleapis.com/skiff.config.v1.RouteConfiguration");
  routes->set_acked_version("bbbbbbbb22");
  routes->set_sent_version("cccccccc33");
  routes->set_nacked_version("cccccccc33");
  routes->set_last_nack_error("route outbound: virtual_hosts[0].routes[1].match.safe_regex:\n"
                              "missing ) at end");
  routes->set_last_nack_time(1700000000);
  auto* clusters = nacking->add_types();
  clusters->set_type_url("type.googleapis.com/skiff.config.v1.Cluster");
  clusters->set_acked_version("dddddddd44");
  clusters->set_sent_version("eeeeeeee55");
  return status;
}

TEST(StatusReportTest, TableShowsSyncAckedVersionsAndNacks) {
  std::string text = renderStatusText(twoProxies());
  EXPECT_THAT(text, HasSubstr("mesh version:    0123456789abcdef\n"));
  EXPECT_THAT(text, HasSubstr("last mesh error: none\n"));
  EXPECT_THAT(text, HasSubstr("NODE          WORKLOAD  STREAM  SYNCED  CLUSTERS"));
  EXPECT_THAT(text, HasSubstr("frontend-0    frontend  DELTA   yes"));
  EXPECT_THAT(text, HasSubstr("backend-v1-0  -         SOTW    no      dddddddd sent(eeeeeeee)"));
  EXPECT_THAT(text, HasSubstr("bbbbbbbb NACK(cccccccc)"));
  // The full NACK text, every line, below the table.
  EXPECT_THAT(text, HasSubstr("backend-v1-0 RouteConfiguration: NACK of version cccccccc33 at "
                              "2023-11-14 22:13:20 UTC\n"
                              "    route outbound: virtual_hosts[0].routes[1].match.safe_regex:\n"
                              "    missing ) at end\n"));
}

TEST(StatusReportTest, MeshErrorAndNoProxies) {
  control::v1::ListProxiesResponse status;
  status.set_last_mesh_error("policies.yaml: traffic_policies[0].service: unknown service \"x\"");
  std::string text = renderStatusText(status);
  EXPECT_THAT(text, HasSubstr("mesh version:    (none)"));
  EXPECT_THAT(text, HasSubstr("last mesh error: policies.yaml: traffic_policies[0]"));
  EXPECT_THAT(text, HasSubstr("no proxies connected"));
  EXPECT_THAT(text, Not(HasSubstr("NACKs:")));
}

TEST(StatusReportTest, UnknownTypeGetsItsOwnColumn) {
  auto status = twoProxies();
  auto* secrets = status.mutable_proxies(0)->add_types();
  secrets->set_type_url("type.googleapis.com/skiff.config.v1.Secret");
  secrets->set_acked_version("ffff");
  std::string text = renderStatusText(status);
  EXPECT_THAT(text, ContainsRegex("ROUTES +Secret\n"));
  EXPECT_THAT(text, HasSubstr("ffff"));
}

TEST(StatusReportTest, JsonExpandsAnyResources) {
  linkResourceTypes();
  control::v1::ConfigDumpResponse dump;
  dump.set_mesh_version("v9");
  config::v1::Listener listener;
  listener.set_name("outbound");
  auto* resource = dump.add_resources();
  resource->set_name("outbound");
  resource->mutable_resource()->PackFrom(listener);
  auto json = messageToJson(dump);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"mesh_version\": \"v9\""));
  EXPECT_THAT(*json, HasSubstr("\"@type\": \"type.googleapis.com/skiff.config.v1.Listener\""));
  EXPECT_THAT(*json, HasSubstr("\"name\": \"outbound\""));
}

TEST(StatusReportTest, TableAlignsColumns) {
  EXPECT_EQ(renderTable({{"A", "BB"}, {"ccc", "d"}}), "A    BB\nccc  d\n");
  EXPECT_EQ(shortTypeName("type.googleapis.com/skiff.config.v1.Cluster"), "Cluster");
}

}  // namespace
}  // namespace skiff::cli
