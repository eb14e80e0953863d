#pragma once

// A worker: one thread, one loop, its own listening sockets, connections, connection pools and
// load balancers. Nothing on a worker is shared with another worker; the main thread reaches it
// only through post().

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/random.h"
#include "event/dispatcher.h"
#include "filters/network/tcp_proxy.h"
#include "http/http_listener_config.h"
#include "net/listener.h"
#include "server/protocol_detector.h"
#include "server/worker_context.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::server {

// What a worker serves on one of its listening sockets: HTTP or TCP.
struct WorkerListener {
  std::shared_ptr<const http::HttpListenerConfig> http;
  std::shared_ptr<const filters::TcpProxyConfig> tcp;
  // With `http`: where connections that do not speak HTTP go (null: nowhere, they get 400).
  std::shared_ptr<const filters::TcpProxyConfig> tcp_fallback;
  std::chrono::milliseconds detection_timeout{100};
  std::unique_ptr<net::ListenSocket> socket;
};

using ClusterMap = absl::flat_hash_map<std::string, upstream::ClusterInfoConstSharedPtr>;

class Worker : public WorkerContext {
 public:
  explicit Worker(int index);
  ~Worker() override;

  // Starts the thread: it takes the clusters, attaches to its sockets and starts accepting.
  void start(std::vector<WorkerListener> listeners, ClusterMap clusters);
  // Thread-safe: each posts to the worker's loop.
  void updateClusters(ClusterMap clusters);
  void drain();
  void stop();  // ends the loop and joins the thread

  int activeConnections() const { return active_connections_.load(std::memory_order_relaxed); }

  // WorkerContext
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  Random& random() override { return random_; }
  upstream::ThreadLocalClusters& clusters() override { return clusters_; }
  access_log::Logger* accessLogger(const std::shared_ptr<access_log::Sink>& sink) override;
  bool draining() const override { return draining_; }
  void onDownstreamClosed(DownstreamConnection& connection) override;

 private:
  void onAccept(const WorkerListener& listener, std::unique_ptr<net::Connection> connection);
  void startSession(const WorkerListener& listener, DetectedProtocol protocol,
                    std::unique_ptr<net::Connection> connection);
  void adopt(std::unique_ptr<DownstreamConnection> session);
  // Registers the session before starting it: start() may already end it.
  template <class Session, class Config>
  void adoptAndStart(const Config& config, std::unique_ptr<net::Connection> connection) {
    auto session = std::make_unique<Session>(*this, config, std::move(connection));
    Session& started = *session;
    adopt(std::move(session));
    started.start();
  }
  void flushAccessLogs();

  int index_;
  event::Dispatcher dispatcher_;
  FastRandom random_;
  upstream::ThreadLocalClusters clusters_;
  std::vector<WorkerListener> listener_configs_;
  std::vector<std::unique_ptr<net::TcpListener>> listeners_;
  absl::flat_hash_map<DownstreamConnection*, std::unique_ptr<DownstreamConnection>> connections_;
  absl::flat_hash_map<const access_log::Sink*, std::unique_ptr<access_log::Logger>> loggers_;
  std::unique_ptr<event::Timer> flush_timer_;
  std::atomic<int> active_connections_{0};
  bool draining_ = false;
  std::thread thread_;
};

}  // namespace skiff::server
