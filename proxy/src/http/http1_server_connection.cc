#include "http/http1_server_connection.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace skiff::http {
namespace {

bool hasToken(const std::string* value, absl::string_view token) {
  if (value == nullptr) return false;
  for (absl::string_view part : absl::StrSplit(*value, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(part), token)) return true;
  }
  return false;
}

// Hop-by-hop headers (RFC 9110 7.6.1) do not cross the proxy, nor do the headers the
// Connection header names. An upgrade keeps "connection: upgrade" and "upgrade".
void removeHopByHopHeaders(HeaderMap& headers, bool keep_upgrade) {
  std::vector<std::string> named;  // extra hop-by-hop names listed in Connection (rare)
  if (const std::string* connection = headers.get("connection")) {
    for (absl::string_view part : absl::StrSplit(*connection, ',')) {
      std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
      if (!name.empty() && name != "upgrade" && name != "close" && name != "keep-alive") {
        named.push_back(std::move(name));
      }
    }
  }
  headers.removeIf([&](const HeaderMap::Entry& entry) {
    const std::string& name = entry.first;
    if (name == "connection" || name == "keep-alive" || name == "proxy-connection") return true;
    if (name == "upgrade") return !keep_upgrade;
    if (name == "te") {
      return !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(entry.second), "trailers");
    }
    return !named.empty() && std::find(named.begin(), named.end(), name) != named.end();
  });
  if (keep_upgrade) headers.add("connection", "upgrade");
}

}  // namespace

Http1ServerConnection::Http1ServerConnection(server::WorkerContext& worker,
                                             std::shared_ptr<const HttpListenerConfig> config,
                                             std::unique_ptr<net::Connection> connection)
    : HttpServerConnectionBase(worker, std::move(config), std::move(connection)),
      decoder_(config_->limits, *this) {}

Http1ServerConnection::~Http1ServerConnection() { stream_.reset(); }

void Http1ServerConnection::start() {
  connection_->setCallbacks(this);
  connection_->startReading();
  armIdleTimer();
  // Bytes read before the handover (protocol detection) are the first request.
  if (connection_->readBuffer().length() > 0) dispatch();
}

void Http1ServerConnection::onIdleTimeout() {
  closeConnection(net::Connection::CloseType::kFlushWrite);
}

ActiveStream& Http1ServerConnection::newStream() {
  disarmIdleTimer();
  stream_ = std::make_unique<ActiveStream>(worker_, *config_, *this, remote_ip_, remote_address_,
                                           *connection_);
  return *stream_;
}

void Http1ServerConnection::onRead(Buffer& data, bool end_stream) {
  countBytesReceived();
  if (tunnel_ && stream_) {
    stream_->decodeData(data, end_stream);
    return;
  }
  dispatch();
  if (!end_stream || closed_) return;
  downstream_eof_ = true;
  if (!stream_) {
    closeConnection(net::Connection::CloseType::kFlushWrite);
  } else if (!stream_->requestComplete()) {
    stream_->abort("DC");
  }
  // Otherwise the response is still coming: it is sent, then the connection closes.
}

void Http1ServerConnection::dispatch() {
  if (dispatching_) return;
  dispatching_ = true;
  Buffer& input = connection_->readBuffer();
  while (!closed_) {
    if (next_message_pending_) {
      next_message_pending_ = false;
      decoder_.startNextMessage();
    }
    // A whole request is in: wait for its response before reading the next one.
    if (decoder_.messageComplete() || decoder_.upgradeRequested()) break;
    size_t before = input.length();
    auto error = decoder_.dispatch(input);
    if (error) {
      onProtocolError(*error);
      break;
    }
    if (next_message_pending_) continue;
    if (input.length() == before) break;
  }
  dispatching_ = false;
}

void Http1ServerConnection::onRequestHead(RequestHead&& head, bool end_stream) {
  ActiveStream& stream = newStream();
  request_protocol_ = head.protocol;
  head_request_ = head.method == "HEAD";
  tunnel_ = false;
  close_after_response_ = !http1::wantsKeepAlive(head.protocol, head.headers) || draining_ ||
                          worker_.draining();
  http10_keep_alive_ = head.protocol == Protocol::kHttp10 && !close_after_response_;

  if (const std::string* expect = head.headers.get("expect")) {
    if (!absl::EqualsIgnoreCase(*expect, "100-continue")) {
      stream.sendLocalReply(417, "DPE", "unsupported expectation");
      return;
    }
    if (head.protocol == Protocol::kHttp11 && !end_stream) {
      // Answer the client ourselves; the upstream gets the body without waiting.
      Buffer interim;
      interim.add("HTTP/1.1 100 Continue\r\n\r\n");
      write(interim);
    }
    head.headers.remove("expect");
  }
  upgrade_requested_ =
      hasToken(head.headers.get("connection"), "upgrade") && head.headers.has("upgrade");
  accepts_trailers_ = hasToken(head.headers.get("te"), "trailers");
  removeHopByHopHeaders(head.headers, upgrade_requested_);
  stream.decodeHead(std::move(head), end_stream);
}

void Http1ServerConnection::onRequestData(Buffer& data, bool end_stream) {
  if (stream_) {
    stream_->decodeData(data, end_stream);
  } else {
    data.clear();
  }
}

void Http1ServerConnection::onRequestTrailers(HeaderMap&& trailers) {
  if (stream_) stream_->decodeTrailers(std::move(trailers));
}

void Http1ServerConnection::encodeHead(ResponseHead& head, bool end_stream) {
  Buffer& out = encode_buffer_;
  head.protocol = Protocol::kHttp11;
  if (head.status == 101 && upgrade_requested_) {
    tunnel_ = true;
    framing_ = http1::BodyFraming::kCloseDelimited;
    removeHopByHopHeaders(head.headers, true);
    http1::encodeResponseHead(head, http1::BodyFraming::kNone, out);
    write(out);
    // Bytes the client sent after its upgrade request belong to the tunnel.
    Buffer& early = connection_->readBuffer();
    if (early.length() > 0) stream_->decodeData(early, false);
    return;
  }
  removeHopByHopHeaders(head.headers, false);
  // A refused upgrade or an unread request body leaves bytes that are not a next request.
  if (upgrade_requested_ || !stream_->requestComplete()) close_after_response_ = true;
  // Drained while the request was in flight (its listener was removed or changed): say so in
  // the response, so the client does not race a next request against the close.
  if (draining_) close_after_response_ = true;
  bool bodyless = head_request_ || head.status == 204 || head.status == 304;
  if (bodyless) {
    framing_ = http1::BodyFraming::kNone;
  } else if (head.headers.has("content-length") &&
             !(accepts_trailers_ && request_protocol_ == Protocol::kHttp11 && !end_stream)) {
    framing_ = http1::BodyFraming::kContentLength;
  } else if (end_stream) {
    head.headers.add("content-length", "0");
    framing_ = http1::BodyFraming::kNone;
  } else if (request_protocol_ == Protocol::kHttp11) {
    // Chunked also when the client accepts trailers: an HTTP/2 upstream may send some (gRPC),
    // and only a chunked body can carry them.
    head.headers.remove("transfer-encoding");
    head.headers.remove("content-length");
    framing_ = http1::BodyFraming::kChunked;
  } else {
    head.headers.remove("transfer-encoding");
    framing_ = http1::BodyFraming::kCloseDelimited;
    close_after_response_ = true;
  }
  if (close_after_response_) {
    head.headers.add("connection", "close");
  } else if (http10_keep_alive_) {
    head.headers.add("connection", "keep-alive");
  }
  http1::encodeResponseHead(head, framing_, out);
  write(out);
}

void Http1ServerConnection::encodeData(Buffer& data, bool end_stream) {
  Buffer& out = encode_buffer_;
  http1::encodeData(framing_, data, end_stream, out);
  write(out);
}

void Http1ServerConnection::encodeTrailers(const HeaderMap& trailers) {
  Buffer& out = encode_buffer_;
  http1::encodeTrailers(framing_, trailers, out);
  write(out);
}

void Http1ServerConnection::readDisable(bool disable) { connection_->readDisable(disable); }

void Http1ServerConnection::onProtocolError(const http1::CodecError& error) {
  stats_.protocol_errors.inc();
  SKIFF_LOG(kDebug, "%s: downstream protocol error %d: %s", config_->name, error.status,
            error.detail);
  if (!stream_) newStream();
  close_after_response_ = true;
  stream_->sendLocalReply(error.status, "DPE", error.detail);
  // The rest of the bytes cannot be trusted: the connection closes after the reply.
  closeConnection(net::Connection::CloseType::kFlushWriteAndLinger);
}

void Http1ServerConnection::onStreamComplete(bool reset) {
  bool unread_request = !stream_->requestComplete();
  bool close = close_after_response_ || tunnel_ || unread_request || downstream_eof_ || draining_;
  worker_.dispatcher().deferredDelete(std::move(stream_));
  upgrade_requested_ = false;
  if (reset) {
    closeConnection(net::Connection::CloseType::kNoFlush);
    return;
  }
  if (close) {
    closeConnection(unread_request ? net::Connection::CloseType::kFlushWriteAndLinger
                                   : net::Connection::CloseType::kFlushWrite);
    return;
  }
  armIdleTimer();
  next_message_pending_ = true;
  if (!connection_->readEnabled()) connection_->readDisable(false);
  // Pipelined bytes that already arrived are handled now, not at the next read.
  if (!dispatching_) dispatch();
}

void Http1ServerConnection::write(Buffer& data) {
  stats_.bytes_sent.inc(data.length());
  connection_->write(data, false);
}

void Http1ServerConnection::onEvent(net::ConnectionEvent event) {
  if (!onClosedEvent(event)) return;
  if (stream_) stream_->abort(event == net::ConnectionEvent::kRemoteClose ? "DC" : "LR");
  worker_.onDownstreamClosed(*this);
}

void Http1ServerConnection::onAboveWriteBufferHighWatermark() {
  if (stream_) stream_->onDownstreamWriteBlocked(true);
}

void Http1ServerConnection::onBelowWriteBufferLowWatermark() {
  if (stream_) stream_->onDownstreamWriteBlocked(false);
}

void Http1ServerConnection::drain() {
  draining_ = true;
  if (!stream_) closeConnection(net::Connection::CloseType::kFlushWrite);
}

}  // namespace skiff::http
