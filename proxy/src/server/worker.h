#pragma once

// A worker: one thread, one loop, its own listening sockets, connections, connection pools and
// load balancers. Nothing on a worker is shared with another worker; the main thread reaches it
// only through post(), which also orders its updates: clusters, then routes, then listeners.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/random.h"
#include "event/dispatcher.h"
#include "net/listener.h"
#include "server/listener_settings.h"
#include "server/protocol_detector.h"
#include "server/worker_context.h"
#include "tls/tls_context.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::server {

// One listener handed to a worker: its settings and this worker's bound socket.
struct WorkerListener {
  ListenerSettingsConstSharedPtr settings;
  std::unique_ptr<net::ListenSocket> socket;
};

using ClusterMap = absl::flat_hash_map<std::string, upstream::ClusterInfoConstSharedPtr>;
// Route tables from the discovery stream, by RouteConfiguration name.
using RouteTableMap = absl::flat_hash_map<std::string, std::shared_ptr<const router::RouteTable>>;

class Worker : public WorkerContext {
 public:
  explicit Worker(int index);
  ~Worker() override;

  // Starts the thread: it takes the clusters, attaches to its sockets and starts accepting.
  void start(std::vector<WorkerListener> listeners, ClusterMap clusters);
  // Thread-safe: each posts to the worker's loop.
  void updateClusters(ClusterMap clusters);
  void updateRoutes(std::shared_ptr<const RouteTableMap> routes);
  // The proxy's SSL contexts for new connections (null: no identity yet). Called before
  // start(), it is the context the worker starts with.
  void updateTlsContext(tls::TlsContextConstSharedPtr context);
  // Starts accepting on a new listener's socket.
  void addListener(WorkerListener listener);
  // Same socket, new settings: new connections get them, the listener's existing connections
  // drain (finish what is in flight, then close).
  void updateListener(ListenerSettingsConstSharedPtr settings);
  // Closes the listening socket and drains that listener's connections; others are untouched.
  void removeListener(const std::string& name);
  void drain();
  void stop();  // ends the loop and joins the thread

  int activeConnections() const { return active_connections_.load(std::memory_order_relaxed); }

  // WorkerContext
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  Random& random() override { return random_; }
  upstream::ThreadLocalClusters& clusters() override { return clusters_; }
  std::shared_ptr<const router::RouteTable> routeTable(const std::string& name) override;
  access_log::Logger* accessLogger(const std::shared_ptr<access_log::Sink>& sink) override;
  bool draining() const override { return draining_; }
  void onDownstreamClosed(DownstreamConnection& connection) override;

 private:
  struct ActiveListener {
    ListenerSettingsConstSharedPtr settings;  // read at each accept: updates swap it
    std::unique_ptr<net::TcpListener> listener;
  };
  // A connection and the listener settings it was accepted with (to drain by listener).
  struct TrackedConnection {
    std::unique_ptr<DownstreamConnection> connection;
    ListenerSettingsConstSharedPtr listener;
  };

  void listen(WorkerListener listener);  // on the worker's thread
  // `tls_decided`: the listener's `tls` step (below) is done for this connection. Returns what
  // now holds the connection (a session or a detector), or null.
  DownstreamConnection* onAccept(const ListenerSettingsConstSharedPtr& listener,
                                 std::unique_ptr<net::Connection> connection,
                                 bool tls_decided = false);
  // A detector decided after its listener changed or went away (deciding connections are not
  // drained then, so the request already sent is not lost): the session it became serves that
  // request with the old settings, then closes.
  void drainIfStale(const ListenerSettings& listener, DownstreamConnection* session);
  // Mutual TLS by the mode for the connection's destination port: STRICT installs a TLS server
  // transport, PERMISSIVE first looks at the first byte, DISABLE leaves plaintext. Then the
  // usual handling (onAccept) runs on the plaintext.
  void acceptTls(const ListenerSettingsConstSharedPtr& listener,
                 std::unique_ptr<net::Connection> connection);
  // False when the connection cannot be served (no identity yet, or the handshake failed on the
  // bytes already read): it is closed as it goes out of scope.
  bool startDownstreamTls(const ListenerSettings& listener, net::Connection& connection);
  // Returns the session (which may already be closed: check connections_ before using it).
  DownstreamConnection* startSession(const ListenerSettingsConstSharedPtr& listener,
                                     DetectedProtocol protocol,
                                     std::unique_ptr<net::Connection> connection);
  // Whether `listener` is still the settings its name accepts new connections with.
  bool isCurrent(const ListenerSettings& listener) const;
  void adopt(std::unique_ptr<DownstreamConnection> session,
             const ListenerSettingsConstSharedPtr& listener);
  // Registers the session before starting it: start() may already end it.
  template <class Session, class Config>
  DownstreamConnection* adoptAndStart(const Config& config,
                                      const ListenerSettingsConstSharedPtr& listener,
                                      std::unique_ptr<net::Connection> connection) {
    auto session = std::make_unique<Session>(*this, config, std::move(connection));
    Session& started = *session;
    adopt(std::move(session), listener);
    started.start();
    return &started;
  }
  // Drains every connection accepted by the listener called `name` (any version of it).
  void drainListenerConnections(const std::string& name);
  void drainConnections(const std::vector<DownstreamConnection*>& connections);
  void flushAccessLogs();

  int index_;
  event::Dispatcher dispatcher_;
  FastRandom random_;
  upstream::ThreadLocalClusters clusters_;
  std::shared_ptr<const RouteTableMap> routes_ = std::make_shared<RouteTableMap>();
  std::vector<WorkerListener> initial_listeners_;
  tls::TlsContextConstSharedPtr initial_tls_context_;
  absl::flat_hash_map<std::string, std::unique_ptr<ActiveListener>> listeners_;
  absl::flat_hash_map<DownstreamConnection*, TrackedConnection> connections_;
  absl::flat_hash_map<const access_log::Sink*, std::unique_ptr<access_log::Logger>> loggers_;
  std::unique_ptr<event::Timer> flush_timer_;
  std::atomic<int> active_connections_{0};
  bool draining_ = false;
  std::thread thread_;
};

}  // namespace skiff::server
