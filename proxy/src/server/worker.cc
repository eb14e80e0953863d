#include "server/worker.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "http/http1_server_connection.h"
#include "http/http2_server_connection.h"
#include "stats/stats.h"

namespace skiff::server {
namespace {

constexpr std::chrono::milliseconds kAccessLogFlushInterval{1000};

}  // namespace

Worker::Worker(int index)
    : index_(index), dispatcher_(absl::StrCat("worker_", index)), clusters_(dispatcher_, random_) {}

Worker::~Worker() { stop(); }

void Worker::start(std::vector<WorkerListener> listeners, ClusterMap clusters) {
  listener_configs_ = std::move(listeners);
  clusters_.update(clusters);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), dispatcher_.name().c_str());
    stats::setThreadShard(index_);
    for (auto& listener : listener_configs_) {
      const WorkerListener* config = &listener;
      auto created = net::TcpListener::create(
          dispatcher_, std::move(*listener.socket),
          [this, config](std::unique_ptr<net::Connection> c) { onAccept(*config, std::move(c)); });
      if (!created.ok()) {
        SKIFF_LOG(kError, "%s", created.status().ToString());
        continue;
      }
      listeners_.push_back(std::move(*created));
    }
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
  });
}

void Worker::onAccept(const WorkerListener& listener, std::unique_ptr<net::Connection> c) {
  if (draining_) return;  // the connection closes as it goes out of scope
  if (listener.tcp) {
    startSession(listener, DetectedProtocol::kTcp, std::move(c));
    return;
  }
  using CodecType = config::v1::HttpConnectionManager;
  if (!listener.tcp_fallback && listener.http->codec_type == CodecType::HTTP1) {
    startSession(listener, DetectedProtocol::kHttp1, std::move(c));
    return;
  }
  if (!listener.tcp_fallback && listener.http->codec_type == CodecType::HTTP2) {
    startSession(listener, DetectedProtocol::kHttp2, std::move(c));
    return;
  }
  auto detector = std::make_unique<ProtocolDetector>(
      *this, std::move(c), listener.tcp_fallback != nullptr,
      listener.tcp_fallback ? listener.detection_timeout : listener.http->idle_timeout,
      [this, &listener](ProtocolDetector& self, DetectedProtocol protocol,
                        std::unique_ptr<net::Connection> connection) {
        onDownstreamClosed(self);
        startSession(listener, protocol, std::move(connection));
      });
  ProtocolDetector& ref = *detector;
  adopt(std::move(detector));
  ref.start();
}

void Worker::startSession(const WorkerListener& listener, DetectedProtocol protocol,
                          std::unique_ptr<net::Connection> c) {
  using CodecType = config::v1::HttpConnectionManager;
  if (protocol != DetectedProtocol::kTcp && listener.http) {
    // A forced codec wins over what the bytes looked like; its decoder rejects a mismatch.
    if (listener.http->codec_type == CodecType::HTTP1) protocol = DetectedProtocol::kHttp1;
    if (listener.http->codec_type == CodecType::HTTP2) protocol = DetectedProtocol::kHttp2;
  }
  switch (protocol) {
    case DetectedProtocol::kHttp1:
      adoptAndStart<http::Http1ServerConnection>(listener.http, std::move(c));
      return;
    case DetectedProtocol::kHttp2:
      adoptAndStart<http::Http2ServerConnection>(listener.http, std::move(c));
      return;
    case DetectedProtocol::kTcp:
    case DetectedProtocol::kNeedMoreBytes:
      adoptAndStart<filters::TcpProxySession>(listener.tcp ? listener.tcp : listener.tcp_fallback,
                                              std::move(c));
      return;
  }
}

void Worker::adopt(std::unique_ptr<DownstreamConnection> session) {
  DownstreamConnection* key = session.get();
  connections_.emplace(key, std::move(session));
  active_connections_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::onDownstreamClosed(DownstreamConnection& connection) {
  auto it = connections_.find(&connection);
  if (it == connections_.end()) return;
  dispatcher_.deferredDelete(std::move(it->second));
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

void Worker::drain() {
  dispatcher_.post([this] {
    draining_ = true;
    listeners_.clear();
    // drain() may close a connection, which removes it from the map: iterate over a copy.
    std::vector<DownstreamConnection*> open;
    for (auto& [key, connection] : connections_) open.push_back(key);
    for (DownstreamConnection* connection : open) {
      if (connections_.contains(connection)) connection->drain();
    }
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  dispatcher_.post([this] { dispatcher_.exit(); });
  thread_.join();
}

}  // namespace skiff::server
