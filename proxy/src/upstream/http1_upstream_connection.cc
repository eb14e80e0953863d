#include "upstream/http1_upstream_connection.h"

#include "common/logging.h"

namespace skiff::upstream {
namespace {

const http1::CodecLimits& responseLimits() {
  static const http1::CodecLimits limits;
  return limits;
}

}  // namespace

Http1UpstreamConnection::Http1UpstreamConnection(std::unique_ptr<net::Connection> connection,
                                                 HostSharedPtr host, ClusterStats& stats,
                                                 std::unique_ptr<ResourceHold> hold)
    : connection_(std::move(connection)),
      host_(std::move(host)),
      stats_(stats),
      hold_(std::move(hold)),
      decoder_(responseLimits(), *this) {
  connection_->setCallbacks(this);
  stats_.connections_total.inc();
  stats_.connections_active.add(1);
}

Http1UpstreamConnection::~Http1UpstreamConnection() {
  connection_->setCallbacks(nullptr);
  connection_->close(net::Connection::CloseType::kNoFlush);
  stats_.connections_active.sub(1);
}

void Http1UpstreamConnection::onRead(Buffer& data, bool end_stream) {
  if (tunnel_) {
    if (owner_ != nullptr) owner_->onResponseData(data, end_stream);
    return;
  }
  if (data.length() > 0) {
    if (owner_ == nullptr || idle_) {
      // Bytes on an idle connection: the upstream is confused; never reuse it.
      lose(true);
      return;
    }
    auto error = decoder_.dispatch(data);
    if (error) {
      SKIFF_LOG(kDebug, "bad response from %s: %s", host_->address, error->detail);
      lose(true);
      return;
    }
    if (tunnel_ && data.length() > 0 && owner_ != nullptr) owner_->onResponseData(data, false);
  }
  if (end_stream && !lost_) {
    // A close-delimited body ends here; a response cut short is reported by lose().
    if (owner_ != nullptr && !idle_ && !decoder_.messageComplete()) decoder_.onEndOfInput();
    lose(false);
  }
}

void Http1UpstreamConnection::onEvent(net::ConnectionEvent event) {
  switch (event) {
    case net::ConnectionEvent::kConnected:
      connected_ = true;
      if (owner_ != nullptr) owner_->onConnected(*this);
      return;
    case net::ConnectionEvent::kConnectFailed:
      if (lost_) return;
      lost_ = true;
      if (owner_ != nullptr) owner_->onConnectionLost(*this, true, false);
      return;
    case net::ConnectionEvent::kRemoteClose:
    case net::ConnectionEvent::kLocalClose:
      lose(false);
      return;
  }
}

void Http1UpstreamConnection::lose(bool protocol_error) {
  if (lost_) return;
  lost_ = true;
  connection_->close(net::Connection::CloseType::kNoFlush);
  if (owner_ != nullptr) owner_->onConnectionLost(*this, false, protocol_error);
}

void Http1UpstreamConnection::onAboveWriteBufferHighWatermark() {
  if (owner_ != nullptr) owner_->onAboveWriteBufferHighWatermark();
}

void Http1UpstreamConnection::onBelowWriteBufferLowWatermark() {
  if (owner_ != nullptr) owner_->onBelowWriteBufferLowWatermark();
}

void Http1UpstreamConnection::onResponseHead(http::ResponseHead&& head, bool end_stream) {
  if (head.status == 101) tunnel_ = true;
  if (owner_ != nullptr) owner_->onResponseHead(std::move(head), end_stream);
}

void Http1UpstreamConnection::onResponseData(Buffer& data, bool end_stream) {
  if (owner_ != nullptr) owner_->onResponseData(data, end_stream);
}

void Http1UpstreamConnection::onResponseTrailers(http::HeaderMap&& trailers) {
  if (owner_ != nullptr) owner_->onResponseTrailers(std::move(trailers));
}

}  // namespace skiff::upstream
