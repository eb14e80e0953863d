#include "http/http_server_connection_base.h"

namespace skiff::http {

HttpServerConnectionBase::HttpServerConnectionBase(
    server::WorkerContext& worker, std::shared_ptr<const HttpListenerConfig> config,
    std::unique_ptr<net::Connection> connection)
    : worker_(worker),
      config_(std::move(config)),
      stats_(*config_->stats),
      connection_(std::move(connection)),
      remote_ip_(connection_->remoteAddress().ip()),
      remote_address_(connection_->remoteAddress().toString()) {
  stats_.connections_total.inc();
  stats_.connections_active.add(1);
}

HttpServerConnectionBase::~HttpServerConnectionBase() {
  connection_->setCallbacks(nullptr);
  stats_.connections_active.sub(1);
}

void HttpServerConnectionBase::armIdleTimer() {
  if (config_->idle_timeout.count() == 0 || closed_) return;
  if (!idle_timer_) idle_timer_ = worker_.dispatcher().createTimer([this] { onIdleTimeout(); });
  idle_timer_->enable(config_->idle_timeout);
}

void HttpServerConnectionBase::disarmIdleTimer() {
  if (idle_timer_) idle_timer_->disable();
}

void HttpServerConnectionBase::closeConnection(net::Connection::CloseType type) {
  if (closed_) return;
  closed_ = true;
  idle_timer_.reset();
  connection_->close(type);
}

bool HttpServerConnectionBase::onClosedEvent(net::ConnectionEvent event) {
  if (event != net::ConnectionEvent::kRemoteClose && event != net::ConnectionEvent::kLocalClose) {
    return false;
  }
  closed_ = true;
  idle_timer_.reset();
  return true;
}

void HttpServerConnectionBase::countBytesReceived() {
  uint64_t total = connection_->bytesRead();
  stats_.bytes_received.inc(total - bytes_received_reported_);
  bytes_received_reported_ = total;
}

}  // namespace skiff::http
