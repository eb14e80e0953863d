#include "filters/network/tcp_proxy.h"

#include "absl/time/clock.h"
#include "common/logging.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::filters {

TcpProxySession::TcpProxySession(server::WorkerContext& worker,
                                 std::shared_ptr<const TcpProxyConfig> config,
                                 std::unique_ptr<net::Connection> downstream)
    : worker_(worker),
      config_(std::move(config)),
      downstream_(std::move(downstream)),
      start_(worker.dispatcher().timeSource().monotonicTime()),
      start_time_(absl::FromChrono(worker.dispatcher().timeSource().systemTime())) {
  config_->stats->connections_total.inc();
  config_->stats->connections_active.add(1);
}

TcpProxySession::~TcpProxySession() {
  downstream_->setCallbacks(nullptr);
  if (upstream_) {
    upstream_->setCallbacks(nullptr);
    upstream_->close(net::Connection::CloseType::kNoFlush);
    cluster_->stats->connections_active.sub(1);
    if (host_) host_->active_requests.fetch_sub(1, std::memory_order_relaxed);
  }
  config_->stats->connections_active.sub(1);
}

void TcpProxySession::start() {
  downstream_->setCallbacks(&downstream_side_);
  // Nothing is read from the client until the upstream is there (a connection handed over by
  // protocol detection is already reading).
  downstream_->readDisable(true);
  if (downstream_->secure() && !downstream_->tlsHandshakeComplete()) {
    // No upstream connection for a caller that has not proven who it is (a failed handshake
    // must not reach the application). The handshake needs reads; plaintext that follows it
    // waits in the read buffer.
    awaiting_handshake_ = true;
    downstream_->readDisable(false);
    downstream_->startReading();
    armIdleTimer();
    return;
  }
  connectUpstream();
}

void TcpProxySession::Side::onTlsHandshakeDone() {
  TcpProxySession& s = session_;
  if (upstream_ || !s.awaiting_handshake_ || s.finishing_) return;
  s.awaiting_handshake_ = false;
  s.downstream_->readDisable(true);
  s.connectUpstream();
}

void TcpProxySession::connectUpstream() {
  if (config_->authorization && !config_->authorization->allowConnection(*downstream_)) {
    finish("RBAC", net::Connection::CloseType::kFlushWrite);
    return;
  }
  upstream::ThreadLocalCluster* cluster = worker_.clusters().get(config_->cluster);
  if (cluster != nullptr) {
    cluster_ = cluster->infoPtr();
    upstream::LbContext context;
    context.downstream_connection = downstream_.get();  // ORIGINAL_DST: where it was sent
    host_ = cluster->chooseHost(context);
    if (!host_) cluster_->stats->lb_no_host.inc();
  }
  if (!host_) {
    finish("UH", net::Connection::CloseType::kFlushWrite);
    return;
  }
  host_->active_requests.fetch_add(1, std::memory_order_relaxed);
  cluster_->stats->connections_total.inc();
  cluster_->stats->connections_active.add(1);
  upstream_ = net::Connection::connect(worker_.dispatcher(),
                                       reinterpret_cast<const sockaddr*>(&host_->sockaddr),
                                       cluster_->connect_timeout);
  if (cluster_->tls) upstream_->startClientTls(cluster_->tls->newTransport());
  upstream_->setCallbacks(&upstream_side_);
  // The client may speak first; its bytes wait in the kernel until the upstream is there.
  armIdleTimer();
}

void TcpProxySession::onConnected() {
  upstream_connected_ = true;
  downstream_->startReading();
  downstream_->readDisable(false);
  // Bytes (and an end of stream) read before the upstream was there go first.
  Buffer& early = downstream_->readBuffer();
  if (early.length() > 0 || downstream_eof_early_) {
    downstream_side_.onRead(early, downstream_eof_early_);
  }
}

void TcpProxySession::armIdleTimer() {
  if (config_->idle_timeout.count() == 0) return;
  if (!idle_timer_) {
    // Nothing moved for the whole timeout, so what is still queued would not move either.
    idle_timer_ = worker_.dispatcher().createTimer(
        [this] { finish("SI", net::Connection::CloseType::kNoFlush); });
  }
  idle_timer_->enable(config_->idle_timeout);
}

void TcpProxySession::Side::onRead(Buffer& data, bool end_stream) {
  TcpProxySession& s = session_;
  if (s.finishing_) return;
  // Client bytes before the upstream is connected stay buffered; onConnected sends them.
  if (!upstream_ && !s.upstream_connected_) {
    s.downstream_eof_early_ |= end_stream;
    return;
  }
  size_t length = data.length();
  if (upstream_) {
    s.config_->stats->bytes_sent.inc(length);
    s.bytes_to_downstream_ += length;
  } else {
    s.config_->stats->bytes_received.inc(length);
    s.bytes_from_downstream_ += length;
  }
  s.armIdleTimer();
  // The peer sends its FIN only after everything queued before it.
  s.peerOf(upstream_).write(data, end_stream);
}

void TcpProxySession::Side::onEvent(net::ConnectionEvent event) {
  TcpProxySession& s = session_;
  switch (event) {
    case net::ConnectionEvent::kConnected:
      s.onConnected();
      return;
    case net::ConnectionEvent::kConnectFailed:
      s.upstream_closed_ = true;
      s.cluster_->stats->connect_failures.inc();
      if (s.upstream_->connectTimedOut()) s.cluster_->stats->connect_timeouts.inc();
      s.finish("UF", net::Connection::CloseType::kFlushWrite);
      return;
    case net::ConnectionEvent::kRemoteClose:
    case net::ConnectionEvent::kLocalClose:
      s.onConnectionClosed(upstream_);
      return;
  }
}

void TcpProxySession::onConnectionClosed(bool upstream) {
  (upstream ? upstream_closed_ : downstream_closed_) = true;
  net::Connection& closed = upstream ? *upstream_ : *downstream_;
  if (!finishing_ && !closed.endedCleanly()) {
    // Reset, read or write error, TLS failure: whatever was in flight is lost, so the other
    // side must see an abort too.
    (upstream ? config_->stats->tcp_resets_upstream : config_->stats->tcp_resets_downstream)
        .inc();
    finish(upstream ? "UC" : "DC", net::Connection::CloseType::kReset);
    return;
  }
  // Closed cleanly: both of its directions ended, so the other connection has its end of
  // stream queued behind its last bytes and closes itself once they are written.
  completeIfClosed();
}

void TcpProxySession::Side::onAboveWriteBufferHighWatermark() {
  // This side cannot take more: stop reading from its peer.
  session_.peerOf(upstream_).readDisable(true);
}

void TcpProxySession::Side::onBelowWriteBufferLowWatermark() {
  // A slow reader that drains its queue is progress: the idle timeout starts over.
  session_.armIdleTimer();
  session_.peerOf(upstream_).readDisable(false);
}

void TcpProxySession::finish(absl::string_view flags, net::Connection::CloseType how) {
  if (completed_) return;
  // A second call (the idle timeout while a flush waits) only makes the close harder.
  if (!finishing_) flags_ = std::string(flags);
  finishing_ = true;
  // Each close may report back at once (onConnectionClosed), or after its flush.
  if (!downstream_closed_) downstream_->close(how);
  if (upstream_ && !upstream_closed_) upstream_->close(how);
  completeIfClosed();
}

void TcpProxySession::completeIfClosed() {
  if (completed_ || !downstream_closed_ || (upstream_ && !upstream_closed_)) return;
  completed_ = true;
  idle_timer_.reset();
  logAccess();
  worker_.onDownstreamClosed(*this);
}

void TcpProxySession::logAccess() {
  access_log::Logger* logger = worker_.accessLogger(config_->access_log);
  if (logger == nullptr) return;
  // A session keeps a few compact fields rather than a whole StreamInfo: sessions live long
  // and idle, and the record is only needed now.
  StreamInfo entry;
  entry.start_time = start_time_;
  entry.protocol = "TCP";
  entry.bytes_received = bytes_from_downstream_;
  entry.bytes_sent = bytes_to_downstream_;
  entry.duration = std::chrono::duration_cast<std::chrono::microseconds>(
      worker_.dispatcher().timeSource().monotonicTime() - start_);
  entry.upstream_cluster = config_->cluster;
  if (host_) entry.upstream_host = host_->address;
  entry.response_flags = flags_;
  std::string remote = downstream_->remoteAddress().toString();
  entry.downstream_remote = remote;
  logger->log(entry);
}

}  // namespace skiff::filters
