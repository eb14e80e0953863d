// The real gRPC server in-process (ControlPlane on port 0, watching a temporary directory),
// driven by real gRPC client stubs.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_replace.h"
#include "control_plane.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "skiff/control/v1/status.grpc.pb.h"
#include "test_mesh.h"

namespace skiff::control {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using discovery::v1::DeltaDiscoveryRequest;
using discovery::v1::DeltaDiscoveryResponse;
using discovery::v1::DiscoveryRequest;
using discovery::v1::DiscoveryResponse;

class DiscoveryServerTest : public ::testing::Test {
 protected:
  DiscoveryServerTest() {
    dir_ = testing::makeTestDir("skiff-ads-");
    for (const MeshSource& source : testing::demoSources()) {
      write(std::filesystem::path(source.file).filename().string(), source.yaml);
    }
    control_plane_ = std::make_unique<ControlPlane>(ControlPlaneOptions{
        dir_.string(), "127.0.0.1:0", std::chrono::milliseconds(5)});
    absl::Status status = control_plane_->start();
    EXPECT_TRUE(status.ok()) << status;
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(control_plane_->port()),
                                   grpc::InsecureChannelCredentials());
    ads_ = discovery::v1::AggregatedDiscoveryService::NewStub(channel_);
    status_ = control::v1::ControlStatus::NewStub(channel_);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  ~DiscoveryServerTest() override {
    context_.TryCancel();
    control_plane_->stop();
    std::filesystem::remove_all(dir_);
  }

  // Atomic replace, as editors and ConfigMaps do.
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / (name + ".tmp")) << text;
    std::filesystem::rename(dir_ / (name + ".tmp"), dir_ / name);
  }

  control::v1::ListProxiesResponse listProxies() {
    grpc::ClientContext context;
    control::v1::ListProxiesResponse response;
    EXPECT_TRUE(status_->ListProxies(&context, {}, &response).ok());
    return response;
  }

  // Polls the status API until `done` holds (the server's state changes asynchronously).
  template <typename Predicate>
  control::v1::ListProxiesResponse waitForStatus(Predicate done) {
    control::v1::ListProxiesResponse response;
    for (int i = 0; i < 500; ++i) {
      response = listProxies();
      if (done(response)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return response;
  }

  static config::v1::Node frontend() {
    config::v1::Node node;
    node.set_id("frontend-0");
    node.set_workload("frontend");
    return node;
  }

  static const control::v1::TypeStatus* type(const control::v1::ProxyStatus& proxy,
                                             const std::string& type_url) {
    for (const auto& type : proxy.types()) {
      if (type.type_url() == type_url) return &type;
    }
    return nullptr;
  }

  std::filesystem::path dir_;
  std::unique_ptr<ControlPlane> control_plane_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<discovery::v1::AggregatedDiscoveryService::Stub> ads_;
  std::unique_ptr<control::v1::ControlStatus::Stub> status_;
  grpc::ClientContext context_;
};

const std::string kSplit8020 = absl::StrReplaceAll(
    testing::kPolicy,
    {{"weight: 100}, {version: v2, weight: 0}", "weight: 80}, {version: v2, weight: 20}"}});

TEST_F(DiscoveryServerTest, StateOfTheWorldAckNackAndPush) {
  auto stream = ads_->StreamAggregatedResources(&context_);
  for (const std::string& type_url : kPushOrder) {
    DiscoveryRequest request;
    *request.mutable_node() = frontend();
    request.set_type_url(type_url);
    ASSERT_TRUE(stream->Write(request));
  }
  std::map<std::string, DiscoveryResponse> first;
  for (int i = 0; i < 4; ++i) {
    DiscoveryResponse response;
    ASSERT_TRUE(stream->Read(&response));
    first[response.type_url()] = response;
  }
  EXPECT_EQ(first[xds::kClusterType].resources_size(), 5);  // with "passthrough"
  EXPECT_EQ(first[xds::kEndpointType].resources_size(), 3);
  EXPECT_EQ(first[xds::kRouteType].resources_size(), 2);
  EXPECT_EQ(first[xds::kListenerType].resources_size(), 2);
  for (const auto& [type_url, response] : first) {
    DiscoveryRequest ack;
    ack.set_type_url(type_url);
    ack.set_version_info(response.version_info());
    ack.set_response_nonce(response.nonce());
    ASSERT_TRUE(stream->Write(ack));
  }
  control::v1::ListProxiesResponse status = waitForStatus([](const auto& r) {
    return r.proxies_size() == 1 && !r.proxies(0).synced_version().empty();
  });
  ASSERT_EQ(status.proxies_size(), 1);
  EXPECT_EQ(status.proxies(0).synced_version(), status.mesh_version());
  EXPECT_EQ(status.proxies(0).stream_type(), "STATE_OF_THE_WORLD");
  EXPECT_EQ(status.proxies(0).node().id(), "frontend-0");

  // A mesh change that leaves this proxy's resources as they are sends it nothing.
  mesh::v1::MeshFile relabeled = testing::demoMesh();
  (*relabeled.mutable_workloads(1)->mutable_labels())["team"] = "payments";
  EXPECT_EQ(control_plane_->discovery().publish(std::make_shared<const MeshSnapshot>(relabeled)),
            0u);

  // A changed split: only the outbound route configuration is resent.
  write("policy.yaml", kSplit8020);
  DiscoveryResponse routes;
  ASSERT_TRUE(stream->Read(&routes));
  EXPECT_EQ(routes.type_url(), xds::kRouteType);
  EXPECT_EQ(routes.resources_size(), 2);
  EXPECT_NE(routes.version_info(), first[xds::kRouteType].version_info());

  // A stale nonce is ignored; the NACK of the latest is recorded.
  DiscoveryRequest stale;
  stale.set_type_url(xds::kRouteType);
  stale.set_response_nonce(first[xds::kRouteType].nonce());
  stale.mutable_error_detail()->set_message("stale");
  ASSERT_TRUE(stream->Write(stale));
  DiscoveryRequest nack;
  nack.set_type_url(xds::kRouteType);
  nack.set_version_info(first[xds::kRouteType].version_info());
  nack.set_response_nonce(routes.nonce());
  nack.mutable_error_detail()->set_code(3);
  nack.mutable_error_detail()->set_message("route configuration \"outbound\": rejected");
  ASSERT_TRUE(stream->Write(nack));
  status = waitForStatus([](const auto& r) {
    const auto* routes = type(r.proxies(0), xds::kRouteType);
    return routes != nullptr && !routes->nacked_version().empty();
  });
  const control::v1::TypeStatus* route_status = type(status.proxies(0), xds::kRouteType);
  ASSERT_NE(route_status, nullptr);
  EXPECT_EQ(route_status->nacked_version(), routes.version_info());
  EXPECT_EQ(route_status->acked_version(), first[xds::kRouteType].version_info());
  EXPECT_EQ(route_status->last_nack_error(), "route configuration \"outbound\": rejected");
  EXPECT_GT(route_status->last_nack_time(), 0);
  EXPECT_EQ(status.proxies(0).synced_version(), "");

  // An invalid file is refused and reported; the next good version goes out.
  write("policy.yaml", "traffic_policies: [{service: cart}]\n");
  status = waitForStatus([](const auto& r) { return !r.last_mesh_error().empty(); });
  EXPECT_THAT(status.last_mesh_error(),
              ::testing::HasSubstr("policy.yaml: traffic_policies[0].service: unknown service"));
  write("policy.yaml", testing::kPolicy);
  DiscoveryResponse back;
  ASSERT_TRUE(stream->Read(&back));
  EXPECT_EQ(back.type_url(), xds::kRouteType);
  EXPECT_EQ(back.version_info(), first[xds::kRouteType].version_info());
  EXPECT_EQ(listProxies().last_mesh_error(), "");
}

TEST_F(DiscoveryServerTest, DeltaResendsOnlyWhatDiffersAndRemovesAfterRoutes) {
  absl::StatusOr<control::v1::ConfigDumpResponse> dump =
      configDump(control_plane_->discovery(), "frontend-0");
  ASSERT_TRUE(dump.ok());
  std::string inbound_version;
  for (const auto& resource : dump->resources()) {
    if (resource.name() == "inbound|frontend") inbound_version = resource.version();
  }

  auto stream = ads_->DeltaAggregatedResources(&context_);
  for (const std::string& type_url : kPushOrder) {
    DeltaDiscoveryRequest request;
    *request.mutable_node() = frontend();
    request.set_type_url(type_url);
    if (type_url == xds::kClusterType) {
      (*request.mutable_initial_resource_versions())["inbound|frontend"] = inbound_version;
      (*request.mutable_initial_resource_versions())["outbound|gone"] = "1";
    }
    ASSERT_TRUE(stream->Write(request));
  }
  std::map<std::string, DeltaDiscoveryResponse> first;
  for (int i = 0; i < 4; ++i) {
    DeltaDiscoveryResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.system_version_info(), dump->mesh_version());
    first[response.type_url()] = response;
  }
  std::vector<std::string> clusters;
  for (const auto& resource : first[xds::kClusterType].resources()) {
    clusters.push_back(resource.name());
  }
  EXPECT_THAT(clusters, UnorderedElementsAre("outbound|backend", "outbound|backend|v1",
                                             "outbound|backend|v2", "passthrough"));
  EXPECT_THAT(first[xds::kClusterType].removed_resources(), ElementsAre("outbound|gone"));
  EXPECT_EQ(first[xds::kListenerType].resources_size(), 2);
  for (const auto& [type_url, response] : first) {
    DeltaDiscoveryRequest ack;
    ack.set_type_url(type_url);
    ack.set_response_nonce(response.nonce());
    ASSERT_TRUE(stream->Write(ack));
  }
  control::v1::ListProxiesResponse status = waitForStatus([](const auto& r) {
    return r.proxies_size() == 1 && !r.proxies(0).synced_version().empty();
  });
  EXPECT_EQ(status.proxies(0).stream_type(), "DELTA");

  // backend v2 goes away: its endpoints and the routes that named it first, then the removals.
  const std::string workloads = testing::kWorkloads;
  write("workloads.yaml",
        workloads.substr(0, workloads.find("  - name: backend-v2")) +
            workloads.substr(workloads.find("  - name: billing")));
  write("policy.yaml", "traffic_policies: []\n");
  std::vector<std::string> order;
  DeltaDiscoveryResponse response;
  while (order.size() < 4 && stream->Read(&response)) {
    std::string entry = response.type_url().substr(response.type_url().rfind('.') + 1);
    for (const auto& resource : response.resources()) entry += " +" + resource.name();
    for (const auto& name : response.removed_resources()) entry += " -" + name;
    order.push_back(entry);
  }
  EXPECT_THAT(order, ElementsAre("ClusterLoadAssignment +outbound|backend",
                                 "RouteConfiguration +outbound",
                                 "Cluster -outbound|backend|v2",
                                 "ClusterLoadAssignment -outbound|backend|v2"));
}

TEST_F(DiscoveryServerTest, ConfigDumpByWorkloadAndUnknownNode) {
  grpc::ClientContext context;
  control::v1::ConfigDumpRequest request;
  request.set_node("backend-v2");
  control::v1::ConfigDumpResponse response;
  ASSERT_TRUE(status_->ConfigDump(&context, request, &response).ok());
  EXPECT_EQ(response.resources(0).resource().type_url(), xds::kClusterType);
  EXPECT_FALSE(response.mesh_version().empty());
  grpc::ClientContext unknown_context;
  request.set_node("nobody");
  EXPECT_EQ(status_->ConfigDump(&unknown_context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace skiff::control
