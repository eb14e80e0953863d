#include "server/worker.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "http/http1_server_connection.h"
#include "http/http2_server_connection.h"
#include "net/original_destination.h"
#include "server/tls_mode_detector.h"
#include "stats/stats.h"

namespace skiff::server {
namespace {

constexpr std::chrono::milliseconds kAccessLogFlushInterval{1000};

}  // namespace

Worker::Worker(int index)
    : index_(index), dispatcher_(absl::StrCat("worker_", index)), clusters_(dispatcher_, random_) {}

Worker::~Worker() { stop(); }

void Worker::start(std::vector<WorkerListener> listeners, ClusterMap clusters) {
  initial_listeners_ = std::move(listeners);
  clusters_.update(clusters);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), dispatcher_.name().c_str());
    stats::setThreadShard(index_);
    tls::setCurrentContext(std::move(initial_tls_context_));
    for (auto& listener : initial_listeners_) listen(std::move(listener));
    initial_listeners_.clear();
    flush_timer_ = dispatcher_.createTimer([this] { flushAccessLogs(); });
    flush_timer_->enable(kAccessLogFlushInterval);
    dispatcher_.run();
    // Shutting down: connections go first, while the loop can still close their handles.
    listeners_.clear();
    connections_.clear();
    clusters_.update({});
    flushAccessLogs();
    loggers_.clear();
    flush_timer_.reset();
    tls::setCurrentContext(nullptr);
  });
}

void Worker::listen(WorkerListener listener) {
  if (draining_) return;  // the socket closes as it goes out of scope
  auto active = std::make_unique<ActiveListener>();
  active->settings = std::move(listener.settings);
  // The slot is stable (owned by unique_ptr) and outlives its TcpListener: each accept reads
  // the settings current at that moment.
  ActiveListener* slot = active.get();
  auto created = net::TcpListener::create(
      dispatcher_, std::move(*listener.socket),
      [this, slot](std::unique_ptr<net::Connection> c) { onAccept(slot->settings, std::move(c)); });
  if (!created.ok()) {
    SKIFF_LOG(kError, "listener %s: %s", slot->settings->name, created.status().ToString());
    return;
  }
  active->listener = std::move(*created);
  listeners_[slot->settings->name] = std::move(active);
}

DownstreamConnection* Worker::onAccept(const ListenerSettingsConstSharedPtr& listener,
                                       std::unique_ptr<net::Connection> c, bool tls_decided) {
  if (draining_) return nullptr;  // the connection closes as it goes out of scope
  // Read once, before TLS: the port's mTLS mode, the chains and ORIGINAL_DST clusters all
  // use where the client meant to go.
  if (listener->use_original_dst && !tls_decided) net::recordOriginalDestination(*c);
  if (listener->tls && !tls_decided) {
    acceptTls(listener, std::move(c));
    return nullptr;
  }
  if (listener->use_original_dst) {
    if (const DestinationChain* chain =
            selectDestinationChain(listener->destination_chains, c->destinationAddress())) {
      return adoptAndStart<filters::TcpProxySession>(chain->tcp, listener, std::move(c));
    }
  }
  if (listener->tcp) return startSession(listener, DetectedProtocol::kTcp, std::move(c));
  using CodecType = config::v1::HttpConnectionManager;
  if (!listener->tcp_fallback && listener->http->codec_type == CodecType::HTTP1) {
    return startSession(listener, DetectedProtocol::kHttp1, std::move(c));
  }
  if (!listener->tcp_fallback && listener->http->codec_type == CodecType::HTTP2) {
    return startSession(listener, DetectedProtocol::kHttp2, std::move(c));
  }
  // The detector holds the settings it was accepted with: the listener may change or go away
  // before the first bytes arrive.
  auto detector = std::make_unique<ProtocolDetector>(
      *this, std::move(c), listener->tcp_fallback != nullptr,
      listener->tcp_fallback ? listener->detection_timeout : listener->http->idle_timeout,
      [this, listener](ProtocolDetector& self, DetectedProtocol protocol,
                       std::unique_ptr<net::Connection> connection) {
        onDownstreamClosed(self);
        drainIfStale(*listener, startSession(listener, protocol, std::move(connection)));
      });
  ProtocolDetector& ref = *detector;
  adopt(std::move(detector), listener);
  ref.start();
  return &ref;  // (start() may already have handed it on: callers check connections_)
}

void Worker::drainIfStale(const ListenerSettings& listener, DownstreamConnection* session) {
  if (session == nullptr || isCurrent(listener) || !connections_.contains(session)) return;
  if (!session->deciding()) session->drain();
}

void Worker::acceptTls(const ListenerSettingsConstSharedPtr& listener,
                       std::unique_ptr<net::Connection> c) {
  // The mode is chosen by the port the client meant (before an iptables REDIRECT).
  switch (listener->tls->modeFor(c->destinationAddress().port())) {
    case config::v1::STRICT:
      if (!startDownstreamTls(*listener, *c)) return;
      break;
    case config::v1::PERMISSIVE: {
      // A client that speaks first (HTTP) may take its time; a TCP service may be one whose
      // server speaks first, so silence there soon means plaintext.
      std::chrono::milliseconds timeout =
          listener->http && !listener->tcp_fallback ? listener->http->idle_timeout
                                                    : listener->detection_timeout;
      auto detector = std::make_unique<TlsModeDetector>(
          *this, std::move(c), timeout,
          [this, listener](TlsModeDetector& self, bool tls,
                           std::unique_ptr<net::Connection> connection) {
            onDownstreamClosed(self);
            if (tls && !startDownstreamTls(*listener, *connection)) return;
            drainIfStale(*listener,
                         onAccept(listener, std::move(connection), /*tls_decided=*/true));
          });
      TlsModeDetector& ref = *detector;
      adopt(std::move(detector), listener);
      ref.start();
      return;
    }
    default:  // DISABLE
      break;
  }
  onAccept(listener, std::move(c), /*tls_decided=*/true);
}

bool Worker::startDownstreamTls(const ListenerSettings& listener, net::Connection& connection) {
  std::unique_ptr<tls::TlsTransport> transport = listener.tls->newTransport();
  if (!transport) return false;
  connection.startServerTls(std::move(transport));
  return connection.isOpen();
}

bool Worker::isCurrent(const ListenerSettings& listener) const {
  auto it = listeners_.find(listener.name);
  return it != listeners_.end() && it->second->settings.get() == &listener;
}

DownstreamConnection* Worker::startSession(const ListenerSettingsConstSharedPtr& listener,
                                           DetectedProtocol protocol,
                                           std::unique_ptr<net::Connection> c) {
  using CodecType = config::v1::HttpConnectionManager;
  if (protocol != DetectedProtocol::kTcp && listener->http) {
    // A forced codec wins over what the bytes looked like; its decoder rejects a mismatch.
    if (listener->http->codec_type == CodecType::HTTP1) protocol = DetectedProtocol::kHttp1;
    if (listener->http->codec_type == CodecType::HTTP2) protocol = DetectedProtocol::kHttp2;
  }
  switch (protocol) {
    case DetectedProtocol::kHttp1:
      return adoptAndStart<http::Http1ServerConnection>(listener->http, listener, std::move(c));
    case DetectedProtocol::kHttp2:
      return adoptAndStart<http::Http2ServerConnection>(listener->http, listener, std::move(c));
    case DetectedProtocol::kTcp:
    case DetectedProtocol::kNeedMoreBytes:
      break;
  }
  return adoptAndStart<filters::TcpProxySession>(
      listener->tcp ? listener->tcp : listener->tcp_fallback, listener, std::move(c));
}

void Worker::adopt(std::unique_ptr<DownstreamConnection> session,
                   const ListenerSettingsConstSharedPtr& listener) {
  DownstreamConnection* key = session.get();
  connections_.emplace(key, TrackedConnection{std::move(session), listener});
  active_connections_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::onDownstreamClosed(DownstreamConnection& connection) {
  auto it = connections_.find(&connection);
  if (it == connections_.end()) return;
  dispatcher_.deferredDelete(std::move(it->second.connection));
  connections_.erase(it);
  active_connections_.fetch_sub(1, std::memory_order_relaxed);
}

access_log::Logger* Worker::accessLogger(const std::shared_ptr<access_log::Sink>& sink) {
  if (!sink) return nullptr;
  auto& logger = loggers_[sink.get()];
  if (!logger) logger = std::make_unique<access_log::Logger>(sink);
  return logger.get();
}

void Worker::flushAccessLogs() {
  for (auto& [sink, logger] : loggers_) logger->flush();
  if (flush_timer_) flush_timer_->enable(kAccessLogFlushInterval);
}

void Worker::updateClusters(ClusterMap clusters) {
  dispatcher_.post([this, clusters = std::move(clusters)] { clusters_.update(clusters); });
}

void Worker::updateTlsContext(tls::TlsContextConstSharedPtr context) {
  if (!thread_.joinable()) {
    initial_tls_context_ = std::move(context);
    return;
  }
  dispatcher_.post([context = std::move(context)] { tls::setCurrentContext(context); });
}

void Worker::updateRoutes(std::shared_ptr<const RouteTableMap> routes) {
  dispatcher_.post([this, routes = std::move(routes)] { routes_ = routes; });
}

std::shared_ptr<const router::RouteTable> Worker::routeTable(const std::string& name) {
  auto it = routes_->find(name);
  return it == routes_->end() ? nullptr : it->second;
}

void Worker::addListener(WorkerListener listener) {
  // std::function must be copyable; the socket is not.
  auto shared = std::make_shared<WorkerListener>(std::move(listener));
  dispatcher_.post([this, shared] { listen(std::move(*shared)); });
}

void Worker::updateListener(ListenerSettingsConstSharedPtr settings) {
  dispatcher_.post([this, settings = std::move(settings)] {
    auto it = listeners_.find(settings->name);
    if (it == listeners_.end()) return;
    drainListenerConnections(settings->name);
    it->second->settings = settings;
  });
}

void Worker::removeListener(const std::string& name) {
  dispatcher_.post([this, name] {
    listeners_.erase(name);  // closes the socket: new connects are refused
    drainListenerConnections(name);
  });
}

void Worker::drainListenerConnections(const std::string& name) {
  std::vector<DownstreamConnection*> matching;
  for (auto& [key, tracked] : connections_) {
    // Connections still deciding are drained once they have decided (drainIfStale).
    if (tracked.listener->name == name && !key->deciding()) {
      matching.push_back(key);
    }
  }
  drainConnections(matching);
}

void Worker::drainConnections(const std::vector<DownstreamConnection*>& connections) {
  // drain() may close a connection, which removes it from the map: check before each call.
  for (DownstreamConnection* connection : connections) {
    if (connections_.contains(connection)) connection->drain();
  }
}

void Worker::drain() {
  dispatcher_.post([this] {
    draining_ = true;
    listeners_.clear();
    std::vector<DownstreamConnection*> open;
    for (auto& [key, tracked] : connections_) open.push_back(key);
    drainConnections(open);
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  dispatcher_.post([this] { dispatcher_.exit(); });
  thread_.join();
}

}  // namespace skiff::server
