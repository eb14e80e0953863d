// The discovery client against an in-process fake control plane: delta first, ACK/NACK,
// removal, EDS merge, the state-of-the-world fallback, reconnects and a prompt shutdown.

#include "xds/xds_client.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "fake_ads_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::xds {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing::FakeAdsServer;
namespace discovery = ::skiff::discovery::v1;

// The main thread's loop, reduced to a task queue. stop() drops what is queued and runs
// nothing more, like a server whose loop has ended.
class MainLoop {
 public:
  MainLoop() : thread_([this] { run(); }) {}
  ~MainLoop() { stop(); }

  void post(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopped_) tasks_.push_back(std::move(task));
    wake_.notify_all();
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
      tasks_.clear();
      wake_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stopped_ || !tasks_.empty(); });
      if (stopped_) return;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopped_ = false;
  std::thread thread_;
};

// The server's side of the contract: records each snapshot, answers with `result`.
class Applier {
 public:
  absl::Status apply(const DynamicSnapshot& snapshot) {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshots_.push_back(snapshot);
    changed_.notify_all();
    return result_;
  }
  void setResult(absl::Status result) {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = std::move(result);
  }
  void initialConfig() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++initial_config_calls_;
  }
  int initialConfigCalls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return initial_config_calls_;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return snapshots_.size();
  }
  DynamicSnapshot last() {
    std::lock_guard<std::mutex> lock(mutex_);
    return snapshots_.back();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<DynamicSnapshot> snapshots_;
  absl::Status result_;
  int initial_config_calls_ = 0;
};

template <typename Message>
Message parse(const std::string& yaml) {
  Message message;
  absl::Status status = config::yamlToMessage(yaml, message);
  EXPECT_TRUE(status.ok()) << status;
  return message;
}

config::v1::Listener listener(const std::string& name, int port) {
  return parse<config::v1::Listener>(absl::StrCat(
      "{ name: ", name, ", address: { address: 127.0.0.1, port: ", port,
      " }, http: { rds: { route_config_name: outbound } } }"));
}
config::v1::RouteConfiguration routes() {
  return parse<config::v1::RouteConfiguration>(
      "{ name: outbound, virtual_hosts: [{ name: b, domains: [b], routes: [{ match: { prefix: "
      "/ }, route: { cluster: \"outbound|b\" } }] }] }");
}
config::v1::Cluster edsCluster(const std::string& name) {
  return parse<config::v1::Cluster>(absl::StrCat("{ name: \"", name, "\", type: EDS }"));
}
config::v1::ClusterLoadAssignment assignment(const std::string& cluster, int port) {
  return parse<config::v1::ClusterLoadAssignment>(
      absl::StrCat("{ cluster_name: \"", cluster, "\", endpoints: [{ address: { address: ",
                   "10.0.0.1, port: ", port, " } }] }"));
}

template <typename Message>
discovery::Resource resource(const std::string& name, const std::string& version,
                             const Message& message) {
  discovery::Resource resource;
  resource.set_name(name);
  resource.set_version(version);
  resource.mutable_resource()->PackFrom(message);
  return resource;
}

discovery::DeltaDiscoveryResponse delta(const std::string& type, const std::string& nonce,
                                        std::vector<discovery::Resource> resources,
                                        std::vector<std::string> removed = {}) {
  discovery::DeltaDiscoveryResponse response;
  response.set_type_url(type);
  response.set_nonce(nonce);
  response.set_system_version_info("v-" + nonce);
  for (auto& r : resources) *response.add_resources() = std::move(r);
  for (auto& name : removed) response.add_removed_resources(name);
  return response;
}

class XdsClientTest : public ::testing::Test {
 protected:
  void startClient(const std::string& address,
                   config::v1::DynamicResources::ApiType api = config::v1::DynamicResources::DELTA,
                   std::set<std::string> static_listeners = {}) {
    XdsClientOptions options;
    options.node.set_id("pod-1");
    options.node.set_workload("frontend");
    options.config.set_ads_address(address);
    options.config.set_api_type(api);
    options.config.mutable_reconnect_base_interval()->set_nanos(10'000'000);
    options.config.mutable_reconnect_max_interval()->set_nanos(50'000'000);
    options.static_listener_names = std::move(static_listeners);
    client_ = std::make_unique<XdsClient>(
        std::move(options), [this](std::function<void()> task) { loop_.post(std::move(task)); },
        [this](const DynamicSnapshot& snapshot) { return applier_.apply(snapshot); }, registry_);
    client_->start([this] { applier_.initialConfig(); });
  }

  // Sends the four types in subscription order and checks each ACK (requests 4..7).
  void sendInitialConfig(FakeAdsServer& server) {
    server.send(delta(kClusterType, "1", {resource("outbound|b", "c1", edsCluster("outbound|b"))}));
    server.send(delta(kEndpointType, "2",
                      {resource("outbound|b", "e1", assignment("outbound|b", 9080))}));
    server.send(delta(kRouteType, "3", {resource("outbound", "r1", routes())}));
    server.send(
        delta(kListenerType, "4", {resource("outbound", "l1", listener("outbound", 15001))}));
    for (int i = 0; i < 4; ++i) {
      discovery::DeltaDiscoveryRequest ack;
      ASSERT_TRUE(server.waitDelta(4 + i, &ack));
      EXPECT_EQ(ack.response_nonce(), std::to_string(i + 1));
      EXPECT_FALSE(ack.has_error_detail()) << ack.error_detail().message();
    }
  }

  // Polls a condition set by another thread (the main loop's task runs after the ACK is sent).
  static bool eventually(const std::function<bool()>& condition) {
    for (int i = 0; i < 500; ++i) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return condition();
  }

  std::string metrics() { return registry_.renderPrometheus(); }

  stats::Registry registry_{1};
  Applier applier_;
  MainLoop loop_;
  std::unique_ptr<XdsClient> client_;
};

TEST_F(XdsClientTest, DeltaSubscribesToEveryTypeAppliesAndAcks) {
  FakeAdsServer server;
  startClient(server.address());
  std::vector<std::string> types;
  for (int i = 0; i < 4; ++i) {
    discovery::DeltaDiscoveryRequest request;
    ASSERT_TRUE(server.waitDelta(i, &request));
    EXPECT_EQ(request.node().id(), "pod-1");
    EXPECT_EQ(request.node().workload(), "frontend");
    EXPECT_THAT(request.resource_names_subscribe(), IsEmpty());  // wildcard
    EXPECT_THAT(request.initial_resource_versions(), IsEmpty());
    types.push_back(request.type_url());
  }
  EXPECT_THAT(types, ElementsAre(kClusterType, kEndpointType, kRouteType, kListenerType));

  sendInitialConfig(server);
  ASSERT_TRUE(eventually([&] { return applier_.initialConfigCalls() == 1; }));
  DynamicSnapshot snapshot = applier_.last();
  ASSERT_EQ(snapshot.listeners.count("outbound"), 1u);
  EXPECT_EQ(snapshot.listeners["outbound"].address().port(), 15001u);
  ASSERT_EQ(snapshot.routes.count("outbound"), 1u);
  // EDS: the assignment's endpoints are merged into the cluster.
  ASSERT_EQ(snapshot.clusters["outbound|b"].endpoints_size(), 1);
  EXPECT_EQ(snapshot.clusters["outbound|b"].endpoints(0).address().port(), 9080u);
  EXPECT_EQ(snapshot.versions[kListenerType], "v-4");
  EXPECT_EQ(snapshot.versions[kClusterType], "v-1");

  // Endpoint churn alone updates the cluster's hosts.
  server.send(
      delta(kEndpointType, "5", {resource("outbound|b", "e2", assignment("outbound|b", 9090))}));
  discovery::DeltaDiscoveryRequest ack;
  ASSERT_TRUE(server.waitDelta(8, &ack));
  EXPECT_FALSE(ack.has_error_detail());
  ASSERT_TRUE(eventually([&] { return applier_.count() == 5; }));
  EXPECT_EQ(applier_.last().clusters["outbound|b"].endpoints(0).address().port(), 9090u);

  EXPECT_TRUE(eventually([&] {
    return metrics().find(
               "skiff_xds_updates_total{type=\"ClusterLoadAssignment\",result=\"ack\"} 2") !=
           std::string::npos;
  })) << metrics();
  EXPECT_THAT(metrics(), HasSubstr("skiff_xds_connected 1"));
  EXPECT_EQ(applier_.initialConfigCalls(), 1);
}

TEST_F(XdsClientTest, InvalidResourceIsNackedWithItsFieldPathAndNothingIsApplied) {
  FakeAdsServer server;
  startClient(server.address());
  sendInitialConfig(server);
  ASSERT_TRUE(eventually([&] { return applier_.count() == 4; }));

  server.send(
      delta(kListenerType, "5", {resource("outbound", "l2", listener("outbound", 70000))}));
  discovery::DeltaDiscoveryRequest nack;
  ASSERT_TRUE(server.waitDelta(8, &nack));
  EXPECT_EQ(nack.response_nonce(), "5");
  EXPECT_EQ(nack.error_detail().code(), 3);
  EXPECT_THAT(nack.error_detail().message(),
              HasSubstr("listener \"outbound\": address.port: 70000 is out of range"));
  // A bad regex in a route, and a resource whose envelope names another one.
  auto bad_routes = parse<config::v1::RouteConfiguration>(
      "{ name: outbound, virtual_hosts: [{ domains: [\"*\"], routes: "
      "[{ match: { safe_regex: \"[\" }, route: { cluster: x } }] }] }");
  server.send(delta(kRouteType, "6", {resource("outbound", "r2", bad_routes)}));
  ASSERT_TRUE(server.waitDelta(9, &nack));
  EXPECT_THAT(nack.error_detail().message(),
              HasSubstr("route configuration \"outbound\": virtual_hosts[0].routes[0].match."
                        "safe_regex"));
  server.send(delta(kListenerType, "7", {resource("other", "l3", listener("outbound", 1))}));
  ASSERT_TRUE(server.waitDelta(10, &nack));
  EXPECT_THAT(nack.error_detail().message(),
              HasSubstr("resource \"other\": carries a resource named \"outbound\""));

  EXPECT_EQ(applier_.count(), 4u);
  EXPECT_EQ(applier_.last().listeners["outbound"].address().port(), 15001u);
  EXPECT_TRUE(eventually([&] {
    return metrics().find("skiff_xds_updates_total{type=\"Listener\",result=\"nack\"} 2") !=
           std::string::npos;
  })) << metrics();
}

TEST_F(XdsClientTest, ApplyErrorIsNackedAndTheNextUpdateBuildsOnTheLastGoodSet) {
  FakeAdsServer server;
  startClient(server.address());
  sendInitialConfig(server);
  ASSERT_TRUE(eventually([&] { return applier_.count() == 4; }));

  applier_.setResult(absl::UnavailableError("listener \"outbound2\": 127.0.0.1:1: in use"));
  server.send(delta(kListenerType, "5", {resource("outbound2", "l2", listener("outbound2", 1))}));
  discovery::DeltaDiscoveryRequest nack;
  ASSERT_TRUE(server.waitDelta(8, &nack));
  EXPECT_EQ(nack.error_detail().code(), 3);
  EXPECT_EQ(nack.error_detail().message(), "listener \"outbound2\": 127.0.0.1:1: in use");

  // The rejected listener is not kept: the next snapshot does not carry it.
  applier_.setResult(absl::OkStatus());
  server.send(delta(kRouteType, "6", {resource("outbound", "r2", routes())}));
  discovery::DeltaDiscoveryRequest ack;
  ASSERT_TRUE(server.waitDelta(9, &ack));
  EXPECT_FALSE(ack.has_error_detail());
  ASSERT_TRUE(eventually([&] { return applier_.count() == 6; }));
  EXPECT_EQ(applier_.last().listeners.count("outbound2"), 0u);
  EXPECT_EQ(applier_.last().listeners.count("outbound"), 1u);
}

TEST_F(XdsClientTest, RemovedResourcesLeaveTheSnapshot) {
  FakeAdsServer server;
  startClient(server.address());
  sendInitialConfig(server);
  ASSERT_TRUE(eventually([&] { return applier_.count() == 4; }));
  server.send(delta(kListenerType, "5", {}, {"outbound"}));
  server.send(delta(kEndpointType, "6", {}, {"outbound|b"}));
  discovery::DeltaDiscoveryRequest ack;
  ASSERT_TRUE(server.waitDelta(9, &ack));
  EXPECT_FALSE(ack.has_error_detail());
  ASSERT_TRUE(eventually([&] { return applier_.count() == 6; }));
  DynamicSnapshot snapshot = applier_.last();
  EXPECT_THAT(snapshot.listeners, IsEmpty());
  // The cluster stays, with no hosts.
  ASSERT_EQ(snapshot.clusters.count("outbound|b"), 1u);
  EXPECT_EQ(snapshot.clusters["outbound|b"].endpoints_size(), 0);
}

TEST_F(XdsClientTest, DynamicNameOfAStaticListenerIsNacked) {
  FakeAdsServer server;
  startClient(server.address(), config::v1::DynamicResources::DELTA, {"outbound"});
  server.send(delta(kListenerType, "1", {resource("outbound", "l1", listener("outbound", 1))}));
  discovery::DeltaDiscoveryRequest nack;
  ASSERT_TRUE(server.waitDelta(4, &nack));
  EXPECT_THAT(nack.error_detail().message(),
              HasSubstr("listener \"outbound\": a static listener has that name"));
  EXPECT_EQ(applier_.count(), 0u);
}

TEST_F(XdsClientTest, FallsBackToStateOfTheWorldWhenDeltaIsUnimplemented) {
  FakeAdsServer server(/*delta_implemented=*/false);
  startClient(server.address());
  discovery::DiscoveryRequest request;
  ASSERT_TRUE(server.waitSotw(3, &request));
  EXPECT_EQ(request.type_url(), kListenerType);
  EXPECT_EQ(request.node().id(), "pod-1");
  EXPECT_EQ(server.deltaAttempts(), 1);

  discovery::DiscoveryResponse response;
  response.set_type_url(kListenerType);
  response.set_version_info("7");
  response.set_nonce("n1");
  response.add_resources()->PackFrom(listener("outbound", 15001));
  response.add_resources()->PackFrom(listener("inbound", 15006));
  server.send(response);
  discovery::DiscoveryRequest ack;
  ASSERT_TRUE(server.waitSotw(4, &ack));
  EXPECT_EQ(ack.version_info(), "7");
  EXPECT_EQ(ack.response_nonce(), "n1");
  EXPECT_FALSE(ack.has_error_detail());
  ASSERT_TRUE(eventually([&] { return applier_.count() == 1; }));
  EXPECT_EQ(applier_.last().listeners.size(), 2u);

  // The whole set is replaced: "inbound" is gone. An invalid set is NACKed with version "7".
  response.set_version_info("8");
  response.set_nonce("n2");
  response.clear_resources();
  response.add_resources()->PackFrom(listener("outbound", 0x10000));
  server.send(response);
  ASSERT_TRUE(server.waitSotw(5, &ack));
  EXPECT_EQ(ack.version_info(), "7");
  EXPECT_EQ(ack.response_nonce(), "n2");
  EXPECT_THAT(ack.error_detail().message(), HasSubstr("address.port: 65536 is out of range"));

  response.set_version_info("9");
  response.set_nonce("n3");
  response.clear_resources();
  response.add_resources()->PackFrom(listener("outbound", 15001));
  server.send(response);
  ASSERT_TRUE(server.waitSotw(6, &ack));
  EXPECT_EQ(ack.version_info(), "9");
  ASSERT_TRUE(eventually([&] { return applier_.count() == 2; }));
  EXPECT_THAT(applier_.last().listeners, ElementsAre(Pair("outbound", ::testing::_)));
  EXPECT_EQ(server.deltaAttempts(), 1);  // no more delta attempts on this client
}

TEST_F(XdsClientTest, ReconnectsAndSendsTheVersionsItHolds) {
  auto server = std::make_unique<FakeAdsServer>();
  const int port = server->port();
  startClient(server->address());
  sendInitialConfig(*server);
  ASSERT_TRUE(eventually([&] { return applier_.initialConfigCalls() == 1; }));

  server->stop();
  EXPECT_TRUE(eventually([&] {
    return metrics().find("skiff_xds_connected 0") != std::string::npos;
  })) << metrics();
  server.reset();
  // Some reconnect attempts fail while nobody listens; nothing is applied meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(applier_.count(), 4u);

  FakeAdsServer again(/*delta_implemented=*/true, port);
  std::map<std::string, std::map<std::string, std::string>> held;
  for (int i = 0; i < 4; ++i) {
    discovery::DeltaDiscoveryRequest request;
    ASSERT_TRUE(again.waitDelta(i, &request));
    EXPECT_EQ(request.node().id(), "pod-1");
    held[request.type_url()] = {request.initial_resource_versions().begin(),
                                request.initial_resource_versions().end()};
  }
  EXPECT_THAT(held[kClusterType], ElementsAre(Pair("outbound|b", "c1")));
  EXPECT_THAT(held[kEndpointType], ElementsAre(Pair("outbound|b", "e1")));
  EXPECT_THAT(held[kRouteType], ElementsAre(Pair("outbound", "r1")));
  EXPECT_THAT(held[kListenerType], ElementsAre(Pair("outbound", "l1")));
  again.send(delta(kListenerType, "9", {resource("outbound", "l2", listener("outbound", 15002))}));
  discovery::DeltaDiscoveryRequest ack;
  ASSERT_TRUE(again.waitDelta(4, &ack));
  EXPECT_FALSE(ack.has_error_detail());
  EXPECT_TRUE(eventually([&] {
    return metrics().find("skiff_xds_connected 1") != std::string::npos;
  }));
  EXPECT_THAT(metrics(), ::testing::ContainsRegex("skiff_xds_reconnects_total [1-9]"));
  EXPECT_EQ(applier_.initialConfigCalls(), 1);
}

TEST_F(XdsClientTest, DestructionDoesNotWaitForAnApplyTheStoppedLoopWillNeverRun) {
  FakeAdsServer server;
  startClient(server.address());
  discovery::DeltaDiscoveryRequest request;
  ASSERT_TRUE(server.waitDelta(3, &request));
  loop_.stop();
  server.send(delta(kListenerType, "1", {resource("outbound", "l1", listener("outbound", 1))}));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the client waits on the apply
  const auto start = std::chrono::steady_clock::now();
  client_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(applier_.count(), 0u);
}

TEST_F(XdsClientTest, DestructionWhileReconnectingIsPrompt) {
  startClient("127.0.0.1:1");  // nobody listens
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto start = std::chrono::steady_clock::now();
  client_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace skiff::xds
