#include "upstream/connection_pool.h"

#include <algorithm>

namespace skiff::upstream {

class ConnectionPool::PendingRequest {
 public:
  explicit PendingRequest(PoolCallbacks& callbacks) : callbacks(callbacks) {}
  PoolCallbacks& callbacks;
};

ConnectionPool::ConnectionPool(event::Dispatcher& dispatcher, HostSharedPtr host,
                               ClusterInfoConstSharedPtr cluster)
    : dispatcher_(dispatcher), host_(std::move(host)), cluster_(std::move(cluster)) {}

ConnectionPool::~ConnectionPool() {
  for (auto& connection : connecting_) connection->setOwner(nullptr);
  for (auto& idle : idle_) idle.connection->setOwner(nullptr);
}

ConnectionPool::PendingRequest* ConnectionPool::newStream(PoolCallbacks& callbacks) {
  // Reuse the most recently used connection: it is the least likely to have been closed.
  while (!idle_.empty()) {
    IdleConnection idle = std::move(idle_.back());
    idle_.pop_back();
    if (idle.connection->lost()) {
      dispatcher_.deferredDelete(std::move(idle.connection));
      continue;
    }
    idle.connection->setIdle(false);
    idle.connection->setOwner(nullptr);
    cluster_->stats->connections_reused.inc();
    callbacks.onPoolReady(std::move(idle.connection), true);
    return nullptr;
  }
  pending_.push_back(std::make_unique<PendingRequest>(callbacks));
  PendingRequest* request = pending_.back().get();
  auto connection = net::Connection::connect(
      dispatcher_, reinterpret_cast<const sockaddr*>(&host_->sockaddr), cluster_->connect_timeout);
  connecting_.push_back(
      std::make_unique<UpstreamConnection>(std::move(connection), host_, *cluster_));
  connecting_.back()->setOwner(this);
  return request;
}

void ConnectionPool::cancel(PendingRequest* request) {
  // The connection it caused keeps going and joins the idle set when it connects.
  pending_.remove_if([&](const auto& p) { return p.get() == request; });
}

std::unique_ptr<UpstreamConnection> ConnectionPool::takeConnecting(
    UpstreamConnection& connection) {
  auto it = std::find_if(connecting_.begin(), connecting_.end(),
                         [&](const auto& c) { return c.get() == &connection; });
  if (it == connecting_.end()) return nullptr;
  std::unique_ptr<UpstreamConnection> taken = std::move(*it);
  connecting_.erase(it);
  return taken;
}

void ConnectionPool::onConnected(UpstreamConnection& connection) {
  auto taken = takeConnecting(connection);
  if (!taken) return;
  if (pending_.empty()) {
    release(std::move(taken));
    return;
  }
  std::unique_ptr<PendingRequest> request = std::move(pending_.front());
  pending_.pop_front();
  taken->setOwner(nullptr);
  request->callbacks.onPoolReady(std::move(taken), false);
}

void ConnectionPool::onConnectionLost(UpstreamConnection& connection, bool connect_failed,
                                      bool protocol_error) {
  if (auto taken = takeConnecting(connection)) {
    bool timed_out = taken->connection().connectTimedOut();
    cluster_->stats->connect_failures.inc();
    if (timed_out) cluster_->stats->connect_timeouts.inc();
    dispatcher_.deferredDelete(std::move(taken));
    // Fail one waiting request per failed attempt, oldest first.
    if (!pending_.empty() && pending_.size() > connecting_.size()) {
      std::unique_ptr<PendingRequest> request = std::move(pending_.front());
      pending_.pop_front();
      request->callbacks.onPoolFailure(timed_out);
    }
    return;
  }
  closeIdle(&connection);
}

void ConnectionPool::closeIdle(UpstreamConnection* connection) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->connection.get() == connection) {
      it->connection->setOwner(nullptr);
      dispatcher_.deferredDelete(std::move(it->connection));
      // This may run inside the timer's own callback: let the timer die later.
      if (it->idle_timer) dispatcher_.deferredDelete(std::move(it->idle_timer));
      idle_.erase(it);
      return;
    }
  }
}

void ConnectionPool::release(std::unique_ptr<UpstreamConnection> connection) {
  uint32_t max_requests = cluster_->max_requests_per_connection;
  if (draining_ || connection->lost() || !connection->connected() ||
      (max_requests > 0 && connection->requestsSent() >= max_requests)) {
    connection->setOwner(nullptr);
    dispatcher_.deferredDelete(std::move(connection));
    return;
  }
  if (!pending_.empty()) {
    std::unique_ptr<PendingRequest> request = std::move(pending_.front());
    pending_.pop_front();
    connection->setOwner(nullptr);
    cluster_->stats->connections_reused.inc();
    request->callbacks.onPoolReady(std::move(connection), true);
    return;
  }
  connection->setOwner(this);
  connection->setIdle(true);
  connection->connection().readDisable(false);
  UpstreamConnection* raw = connection.get();
  IdleConnection idle{std::move(connection), nullptr};
  if (cluster_->idle_timeout.count() > 0) {
    idle.idle_timer = dispatcher_.createTimer([this, raw] { closeIdle(raw); });
    idle.idle_timer->enable(cluster_->idle_timeout);
  }
  idle_.push_back(std::move(idle));
}

void ConnectionPool::drain() {
  draining_ = true;
  while (!idle_.empty()) closeIdle(idle_.front().connection.get());
}

}  // namespace skiff::upstream
