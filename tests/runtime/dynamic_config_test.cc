// Applying discovery snapshots to live workers: real sockets on port 0, a real worker loop, a
// small blocking HTTP/1.1 upstream and client. The test thread plays the main thread.

#include "server/dynamic_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "gtest/gtest.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::server {
namespace {

// A listening socket on 127.0.0.1 with a kernel-chosen port; -1 on failure.
int listenOnLoopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 64) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Reads one HTTP/1.1 message head plus a content-length body; empty string on EOF or error.
std::string readMessage(int fd) {
  std::string data;
  char chunk[4096];
  while (true) {
    size_t head_end = data.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t body_length = 0;
      std::string lower = data.substr(0, head_end);
      for (auto& c : lower) c = static_cast<char>(tolower(c));
      size_t at = lower.find("content-length:");
      if (at != std::string::npos) {
        (void)absl::SimpleAtoi(lower.substr(at + 15, lower.find("\r\n", at) - at - 15),
                               &body_length);
      }
      if (data.size() >= head_end + 4 + body_length) return data;
    }
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return "";
    data.append(chunk, static_cast<size_t>(n));
  }
}

// An HTTP/1.1 upstream that answers every request with its name as the body, keep-alive. A
// path starting with /slow is answered after 300 ms. Records whether a client spoke HTTP/2.
class Upstream {
 public:
  explicit Upstream(std::string name) : name_(std::move(name)) {
    fd_ = listenOnLoopback(&port_);
    thread_ = std::thread([this] { acceptLoop(); });
  }
  ~Upstream() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : handlers_) t.join();
    for (int fd : connections_) ::close(fd);
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  bool sawHttp2() const { return saw_http2_; }
  int requests() const { return requests_; }

 private:
  void acceptLoop() {
    while (!stopping_) {
      int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.push_back(fd);
      handlers_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    std::string data;
    char chunk[4096];
    while (true) {
      size_t end = data.find("\r\n\r\n");
      if (end == std::string::npos) {
        ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) return;
        data.append(chunk, static_cast<size_t>(n));
        if (absl::StartsWith(data, "PRI * HTTP/2.0")) {
          saw_http2_ = true;
          ::shutdown(fd, SHUT_RDWR);
          return;
        }
        continue;
      }
      std::string head = data.substr(0, end);
      data.erase(0, end + 4);
      ++requests_;
      if (absl::StrContains(head, " /slow")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      std::string response = absl::StrCat("HTTP/1.1 200 OK\r\ncontent-length: ", name_.size(),
                                          "\r\n\r\n", name_);
      if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) < 0) return;
    }
  }

  std::string name_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> saw_http2_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<int> connections_;
  std::vector<std::thread> handlers_;
};

template <class Message>
Message fromYaml(const std::string& yaml) {
  Message message;
  absl::Status status = config::yamlToMessage(yaml, message);
  EXPECT_TRUE(status.ok()) << status << "\n" << yaml;
  return message;
}

config::v1::Cluster edsCluster(const std::string& name, uint16_t port,
                               const std::string& extra = "") {
  return fromYaml<config::v1::Cluster>(absl::StrCat(
      "name: ", name, "\ntype: EDS\nendpoints:\n- address: {address: 127.0.0.1, port: ", port,
      "}\n", extra));
}

config::v1::RouteConfiguration routeTo(const std::string& name, const std::string& cluster) {
  return fromYaml<config::v1::RouteConfiguration>(absl::StrCat(
      "name: ", name, "\nvirtual_hosts:\n- name: all\n  domains: ['*']\n  routes:\n",
      "  - match: {prefix: /}\n    route: {cluster: ", cluster, "}\n"));
}

config::v1::Listener rdsListener(const std::string& name, const std::string& routes,
                                 uint16_t port = 0) {
  return fromYaml<config::v1::Listener>(
      absl::StrCat("name: ", name, "\naddress: {address: 127.0.0.1, port: ", port,
                   "}\nhttp:\n  rds: {route_config_name: ", routes, "}\n"));
}

class DynamicConfigTest : public ::testing::Test {
 protected:
  DynamicConfigTest() {
    stats::setThreadShard(1);
    clusters_ = std::make_unique<upstream::ClusterManager>(
        main_, registry_, [this](const upstream::ClusterManager::ClusterMap& clusters) {
          for (auto& worker : workers_) worker->updateClusters(clusters);
        });
    listeners_ = std::make_unique<ListenerManager>(registry_, 1);
    dynamic_ = std::make_unique<DynamicConfig>(*clusters_, *listeners_, workers_);
    workers_.push_back(std::make_unique<Worker>(0));
    workers_[0]->start({}, {});
  }
  ~DynamicConfigTest() override {
    for (int fd : clients_) ::close(fd);
    workers_.clear();  // joins the thread before the managers go
  }

  // Applies and waits until the worker has run every update the apply posted.
  absl::Status apply(const xds::DynamicSnapshot& snapshot) {
    absl::Status status = dynamic_->apply(snapshot);
    syncWorker();
    return status;
  }
  void syncWorker() {
    std::promise<void> done;
    workers_[0]->dispatcher().post([&] { done.set_value(); });
    done.get_future().wait();
  }
  uint16_t portOf(const std::string& listener) {
    for (const auto& state : listeners_->listeners()) {
      if (state.name == listener) return state.address.port();
    }
    return 0;
  }
  int connect(const std::string& listener) {
    int fd = connectTo(portOf(listener));
    if (fd >= 0) clients_.push_back(fd);
    return fd;
  }
  static std::string get(int fd, const std::string& path = "/") {
    std::string request = absl::StrCat("GET ", path, " HTTP/1.1\r\nhost: test\r\n\r\n");
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) return "";
    return readMessage(fd);
  }
  // Sends a request the upstream answers after 300 ms; returns once the upstream has it.
  static void sendSlowRequest(int fd, const Upstream& upstream) {
    std::string request = "GET /slow HTTP/1.1\r\nhost: test\r\n\r\n";
    ASSERT_GT(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), 0);
    while (upstream.requests() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  static std::string bodyOf(const std::string& response) {
    size_t end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
  }

  // Cluster `name` to upstream `port`, route "r" to cluster `target`, listener "l" using it.
  xds::DynamicSnapshot basicSnapshot(uint16_t a_port, uint16_t b_port, const std::string& target) {
    xds::DynamicSnapshot snapshot;
    snapshot.clusters["a"] = edsCluster("a", a_port);
    snapshot.clusters["b"] = edsCluster("b", b_port);
    snapshot.routes["r"] = routeTo("r", target);
    snapshot.listeners["l"] = rdsListener("l", "r");
    return snapshot;
  }

  event::Dispatcher main_{"main"};
  stats::Registry registry_{2};
  std::unique_ptr<upstream::ClusterManager> clusters_;
  std::unique_ptr<ListenerManager> listeners_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<DynamicConfig> dynamic_;
  std::vector<int> clients_;
  Upstream upstream_a_{"a"};
  Upstream upstream_b_{"b"};
};

TEST_F(DynamicConfigTest, AddedListenerAndClusterServeRequests) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  ASSERT_NE(portOf("l"), 0);
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  std::string response = get(fd);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200")) << response;
  EXPECT_EQ(bodyOf(response), "a");
  EXPECT_EQ(clusters_->clusters().at("a")->stats->hosts.value(), 1);
}

TEST_F(DynamicConfigTest, KeepAliveConnectionTakesTheNewRouteOnItsNextRequest) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(bodyOf(get(fd)), "a");
  uint16_t port = portOf("l");
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "b")).ok());
  EXPECT_EQ(portOf("l"), port);  // the listener did not change: same socket
  EXPECT_EQ(bodyOf(get(fd)), "b");  // same connection, new table
}

TEST_F(DynamicConfigTest, InFlightRequestKeepsItsRouteWhileTheTableChanges) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  sendSlowRequest(fd, upstream_a_);
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "b")).ok());
  EXPECT_EQ(bodyOf(readMessage(fd)), "a");
  EXPECT_EQ(bodyOf(get(fd)), "b");
}

TEST_F(DynamicConfigTest, RemovedListenerFinishesInFlightRequestAndRefusesNewConnections) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  uint16_t port = portOf("l");
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  sendSlowRequest(fd, upstream_a_);

  xds::DynamicSnapshot without = basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a");
  without.listeners.clear();
  ASSERT_TRUE(apply(without).ok());
  EXPECT_EQ(portOf("l"), 0);
  EXPECT_LT(connectTo(port), 0) << "the listening socket should be closed";

  std::string response = readMessage(fd);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200")) << response;
  EXPECT_EQ(bodyOf(response), "a");
  // The client learns from the response itself that the connection ends, so it does not race
  // a next request against the close.
  EXPECT_NE(absl::AsciiStrToLower(response).find("\r\nconnection: close\r\n"),
            std::string::npos)
      << response;
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0) << "the drained connection closes after its response";
}

// A PERMISSIVE listener holds each new connection until its first byte says TLS or plaintext.
// Such a connection has nothing in flight: a listener update must not close it (issue 10).
TEST_F(DynamicConfigTest, ListenerUpdateLeavesConnectionsStillDetectingTlsOpen) {
  xds::DynamicSnapshot snapshot = basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a");
  snapshot.listeners["l"] = fromYaml<config::v1::Listener>(
      "name: l\naddress: {address: 127.0.0.1, port: 0}\nhttp:\n  rds: {route_config_name: r}\n"
      "tls: {mode: PERMISSIVE}\n");
  ASSERT_TRUE(apply(snapshot).ok());
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  syncWorker();  // the worker has accepted it: the detector waits for the first byte

  snapshot.listeners["l"].mutable_http()->set_max_request_headers_kb(32);
  uint16_t port = portOf("l");
  absl::Status updated = apply(snapshot);
  ASSERT_TRUE(updated.ok()) << updated;
  ASSERT_EQ(portOf("l"), port) << "the listener was updated in place";

  std::string response = get(fd);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200")) << "closed: \"" << response << "\"";
  EXPECT_EQ(bodyOf(response), "a");
}

TEST_F(DynamicConfigTest, RemovedClusterLetsItsInFlightRequestFinish) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  sendSlowRequest(fd, upstream_a_);
  xds::DynamicSnapshot moved = basicSnapshot(upstream_a_.port(), upstream_b_.port(), "b");
  moved.clusters.erase("a");
  ASSERT_TRUE(apply(moved).ok());
  EXPECT_EQ(clusters_->clusters().count("a"), 0u);
  EXPECT_EQ(bodyOf(readMessage(fd)), "a");
  EXPECT_EQ(bodyOf(get(fd)), "b");
}

TEST_F(DynamicConfigTest, ClusterProtocolChangeRebuildsItsPools) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(bodyOf(get(fd)), "a");  // leaves an idle HTTP/1.1 connection in a's pool

  xds::DynamicSnapshot http2 = basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a");
  http2.clusters["a"] = edsCluster("a", upstream_a_.port(), "protocol: HTTP2\n");
  ASSERT_TRUE(apply(http2).ok());
  EXPECT_EQ(clusters_->clusters().at("a")->stats->hosts.value(), 1);  // same series, not doubled
  std::string response = get(fd);
  EXPECT_FALSE(absl::StartsWith(response, "HTTP/1.1 200")) << "our upstream speaks no HTTP/2";
  EXPECT_TRUE(upstream_a_.sawHttp2()) << "the new protocol needs a new pool";

  fd = connect("l");
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  EXPECT_EQ(bodyOf(get(fd)), "a");
}

TEST_F(DynamicConfigTest, BindConflictRejectsTheWholeSnapshotAndChangesNothing) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  uint16_t taken_port = 0;
  int taken = listenOnLoopback(&taken_port);
  ASSERT_GE(taken, 0);

  xds::DynamicSnapshot bad = basicSnapshot(upstream_a_.port(), upstream_b_.port(), "b");
  bad.listeners["another"] = rdsListener("another", "r");  // bound before "outbound" fails
  bad.listeners["outbound"] = rdsListener("outbound", "r", taken_port);
  bad.clusters["c"] = edsCluster("c", upstream_b_.port());
  absl::Status status = apply(bad);
  ::close(taken);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "listener outbound")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "in use")) << status;

  EXPECT_EQ(listeners_->listeners().size(), 1u);
  EXPECT_EQ(portOf("another"), 0);
  EXPECT_EQ(clusters_->clusters().count("c"), 0u);
  EXPECT_EQ(dynamic_->current().routes.at("r").virtual_hosts(0).routes(0).route().cluster(), "a");
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(bodyOf(get(fd)), "a");  // the old route still serves
}

TEST_F(DynamicConfigTest, DynamicNamesMayNotShadowStaticOnes) {
  google::protobuf::RepeatedPtrField<config::v1::Cluster> statics;
  *statics.Add() = edsCluster("static", upstream_a_.port());
  statics[0].set_type(config::v1::Cluster::STATIC);
  ASSERT_TRUE(clusters_->addClusters(statics).ok());
  xds::DynamicSnapshot snapshot;
  snapshot.clusters["static"] = edsCluster("static", upstream_b_.port());
  absl::Status status = apply(snapshot);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "static cluster")) << status;
}

TEST_F(DynamicConfigTest, ListenerWarmsUntilItsRoutesArrive) {
  xds::DynamicSnapshot snapshot = basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a");
  snapshot.routes.clear();
  ASSERT_TRUE(apply(snapshot).ok());
  EXPECT_EQ(portOf("l"), 0);
  EXPECT_EQ(listeners_->warming().count("l"), 1u);

  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  EXPECT_TRUE(listeners_->warming().empty());
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(bodyOf(get(fd)), "a");
}

TEST_F(DynamicConfigTest, ChangedListenerAddressMovesTheListener) {
  ASSERT_TRUE(apply(basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a")).ok());
  uint16_t old_port = portOf("l");
  uint16_t new_port = 0;
  int probe = listenOnLoopback(&new_port);  // a port that is free once closed
  ::close(probe);
  xds::DynamicSnapshot moved = basicSnapshot(upstream_a_.port(), upstream_b_.port(), "a");
  moved.listeners["l"] = rdsListener("l", "r", new_port);
  ASSERT_TRUE(apply(moved).ok());
  EXPECT_EQ(portOf("l"), new_port);
  EXPECT_LT(connectTo(old_port), 0);
  int fd = connect("l");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(bodyOf(get(fd)), "a");
}

// Settings that are not the host set (protocol, lb policy) change: every pool is replaced.
TEST(ThreadLocalClusterTest, SettingsChangeReplacesPoolsAndBalancer) {
  event::Dispatcher dispatcher("worker");
  FastRandom random;
  auto host = upstream::makeHost("127.0.0.1", 1, 1);
  ASSERT_TRUE(host.ok());
  auto hosts = std::make_shared<const upstream::HostVector>(upstream::HostVector{*host});
  auto info = std::make_shared<upstream::ClusterInfo>();
  info->name = "c";
  info->hosts = hosts;
  info->settings_hash = 1;
  upstream::ThreadLocalCluster cluster(dispatcher, random, info);
  auto first = cluster.pool(*host);

  auto same = std::make_shared<upstream::ClusterInfo>(*info);
  cluster.update(same);
  EXPECT_EQ(cluster.pool(*host), first) << "nothing changed: the pool stays";

  auto changed = std::make_shared<upstream::ClusterInfo>(*info);
  changed->config.set_lb_policy(config::v1::Cluster::RANDOM);
  changed->settings_hash = 2;
  cluster.update(changed);
  EXPECT_NE(cluster.pool(*host), first);
}

}  // namespace
}  // namespace skiff::server
