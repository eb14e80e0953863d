// The upstream half: requests out, responses in.

#include "http2/codec.h"
#include "http2/session.h"

namespace skiff::http2 {

class ClientCodec::Impl : public internal::Session {
 public:
  Impl(const Http2Settings& settings, ClientCodecCallbacks& callbacks)
      : Session(settings, /*server=*/false, nullptr), callbacks_(callbacks) {}

  absl::StatusOr<int32_t> newStream(const http::RequestHead& head, bool end_stream) {
    if (goaway_received_) return absl::UnavailableError("HTTP/2 connection is going away");
    if (activeStreams() >= remoteMaxConcurrentStreams()) {
      return absl::ResourceExhaustedError("HTTP/2 peer's max concurrent streams reached");
    }
    internal::HeaderBlock block;
    block.addPseudo(":method", head.method);
    if (head.method == "CONNECT") {
      block.addPseudo(":authority", head.authority.empty() ? head.path : head.authority);
    } else {
      block.addPseudo(":scheme", head.scheme);
      block.addPseudo(":authority", head.authority);
      block.addPseudo(":path", head.path.empty() ? "/" : head.path);
    }
    block.addFields(head.headers, /*request=*/true);
    nghttp2_data_provider provider = dataProvider();
    int32_t stream_id = nghttp2_submit_request(session_, nullptr, block.data(), block.size(),
                                               end_stream ? nullptr : &provider, nullptr);
    if (stream_id < 0) {
      // NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE is the only likely one: ids run out after 2^30
      // requests on one connection.
      return absl::UnavailableError(nghttp2_strerror(stream_id));
    }
    internal::StreamState& stream = createStream(stream_id);
    stream.has_data_provider = !end_stream;
    stream.local_end = end_stream;
    return stream_id;
  }

  void goAway(uint32_t error_code) {
    app_goaway_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, error_code, nullptr, 0);
  }

  uint32_t remoteMaxConcurrentStreams() const {
    return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  }

  bool goAwayReceived() const { return goaway_received_; }

 protected:
  void onHeaderBlock(internal::StreamState& stream, bool end_stream) override {
    if (stream.header_list_too_large) {
      // The router answers 502 on the reset; there is no status to pass on.
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_PROTOCOL_ERROR);
      stream.ignored = true;
      stream.local_reset = true;
      callbacks_.onStreamReset(stream.id, NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    if (stream.head_delivered) {
      http::HeaderMap trailers = std::move(stream.headers);
      stream.headers.clear();
      callbacks_.onResponseTrailers(stream.id, std::move(trailers));
      return;
    }
    if (stream.status < 200) {
      // Interim response (nghttp2 has rejected 101 already): wait for the final one.
      stream.headers.clear();
      stream.header_list_bytes = 0;
      stream.status = 0;
      return;
    }
    stream.head_delivered = true;
    http::ResponseHead head;
    head.status = stream.status;
    head.protocol = http::Protocol::kHttp2;
    head.headers = std::move(stream.headers);
    stream.headers.clear();
    callbacks_.onResponseHead(stream.id, std::move(head), end_stream);
  }

  void onData(internal::StreamState& stream, Buffer& data, bool end_stream) override {
    callbacks_.onResponseData(stream.id, data, end_stream);
  }

  void onStreamReset(int32_t stream_id, uint32_t error_code) override {
    callbacks_.onStreamReset(stream_id, error_code);
  }

  void onStreamWritable(int32_t stream_id) override { callbacks_.onStreamWritable(stream_id); }

  bool streamUnfinished(const internal::StreamState& stream) const override {
    // A complete response is complete, even if the server then resets the rest of our request
    // (RFC 9113 8.1).
    return !stream.remote_end;
  }

  void onGoAwayReceived(const nghttp2_goaway& goaway) override {
    // nghttp2 closes the streams above last_stream_id with REFUSED_STREAM right after this;
    // requests it has not sent yet are ours to refuse.
    goaway_received_ = true;
    callbacks_.onGoAway(goaway.last_stream_id, goaway.error_code);
    refuseUnsentStreams(goaway.last_stream_id);
  }

 private:
  ClientCodecCallbacks& callbacks_;
  bool goaway_received_ = false;
};

ClientCodec::ClientCodec(const Http2Settings& settings, ClientCodecCallbacks& callbacks)
    : impl_(std::make_unique<Impl>(settings, callbacks)) {}
ClientCodec::~ClientCodec() = default;

absl::Status ClientCodec::dispatch(Buffer& input) { return impl_->dispatch(input); }
void ClientCodec::drainOutput(Buffer& out) { impl_->drainOutput(out); }
bool ClientCodec::wantsWrite() const { return impl_->wantsWrite(); }
bool ClientCodec::shouldClose() const { return impl_->shouldClose(); }
absl::StatusOr<int32_t> ClientCodec::newStream(const http::RequestHead& head, bool end_stream) {
  return impl_->newStream(head, end_stream);
}
void ClientCodec::encodeData(int32_t stream_id, Buffer& data, bool end_stream) {
  impl_->encodeData(stream_id, data, end_stream);
}
void ClientCodec::encodeTrailers(int32_t stream_id, const http::HeaderMap& trailers) {
  impl_->encodeTrailers(stream_id, trailers);
}
void ClientCodec::resetStream(int32_t stream_id, uint32_t error_code) {
  impl_->resetStream(stream_id, error_code);
}
void ClientCodec::goAway(uint32_t error_code) { impl_->goAway(error_code); }
void ClientCodec::consumed(int32_t stream_id, size_t bytes) { impl_->consumed(stream_id, bytes); }
size_t ClientCodec::bufferedBytes(int32_t stream_id) const {
  return impl_->bufferedBytes(stream_id);
}
uint32_t ClientCodec::remoteMaxConcurrentStreams() const {
  return impl_->remoteMaxConcurrentStreams();
}
size_t ClientCodec::activeStreams() const { return impl_->activeStreams(); }
bool ClientCodec::goAwayReceived() const { return impl_->goAwayReceived(); }

}  // namespace skiff::http2
