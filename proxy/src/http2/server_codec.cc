// The downstream half: requests in, responses out.

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "http2/codec.h"
#include "http2/session.h"

namespace skiff::http2 {
namespace {

// The opaque data of the PING that times the graceful GOAWAY.
constexpr uint8_t kShutdownPing[8] = {'s', 'k', 'i', 'f', 'f', 'g', 'o', 'a'};

}  // namespace

class ServerCodec::Impl : public internal::Session {
 public:
  Impl(const Http2Settings& settings, ServerCodecCallbacks& callbacks, MonotonicClock clock)
      : Session(settings, /*server=*/true, std::move(clock)), callbacks_(callbacks) {}

  void encodeHead(int32_t stream_id, const http::ResponseHead& head, bool end_stream) {
    internal::StreamState* stream = findStream(stream_id);
    if (stream == nullptr || stream->ignored || stream->has_data_provider || stream->local_end) {
      return;
    }
    internal::HeaderBlock block;
    block.addPseudo(":status", std::to_string(head.status));
    block.addFields(head.headers, /*request=*/false);
    if (head.status < 200) {
      nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, stream_id, nullptr, block.data(),
                             block.size(), nullptr);
      return;
    }
    if (end_stream) {
      stream->local_end = true;
      nghttp2_submit_response(session_, stream_id, block.data(), block.size(), nullptr);
    } else {
      stream->has_data_provider = true;
      nghttp2_data_provider provider = dataProvider();
      nghttp2_submit_response(session_, stream_id, block.data(), block.size(), &provider);
    }
  }

  void goAway(uint32_t error_code, bool graceful) {
    if (final_goaway_submitted_) return;
    if (graceful && !shutdown_notice_sent_) {
      shutdown_notice_sent_ = true;
      final_goaway_code_ = error_code;
      nghttp2_submit_shutdown_notice(session_);
      nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, kShutdownPing);
      return;
    }
    submitFinalGoAway(error_code);
  }

 protected:
  void onHeaderBlock(internal::StreamState& stream, bool end_stream) override {
    if (stream.header_list_too_large) {
      if (!stream.head_delivered) {
        refuseTooLarge(stream, end_stream);
      } else {
        resetStream(stream.id, NGHTTP2_PROTOCOL_ERROR);
        // Unlike an application reset, the application must hear about this one.
        callbacks_.onStreamReset(stream.id, NGHTTP2_PROTOCOL_ERROR);
      }
      return;
    }
    if (stream.head_delivered) {
      http::HeaderMap trailers = std::move(stream.headers);
      stream.headers.clear();
      callbacks_.onRequestTrailers(stream.id, std::move(trailers));
      return;
    }
    stream.head_delivered = true;
    http::RequestHead head;
    head.protocol = http::Protocol::kHttp2;
    head.method = std::move(stream.method);
    head.scheme = std::move(stream.scheme);
    head.authority = std::move(stream.authority);
    head.path = std::move(stream.path);
    if (head.authority.empty()) {
      if (const std::string* host = stream.headers.get("host")) head.authority = *host;
    }
    stream.headers.remove("host");
    if (head.method == "CONNECT") head.path = head.authority;
    head.headers = std::move(stream.headers);
    stream.headers.clear();
    callbacks_.onRequestHead(stream.id, std::move(head), end_stream);
  }

  void onData(internal::StreamState& stream, Buffer& data, bool end_stream) override {
    callbacks_.onRequestData(stream.id, data, end_stream);
  }

  void onStreamReset(int32_t stream_id, uint32_t error_code) override {
    callbacks_.onStreamReset(stream_id, error_code);
  }

  void onStreamWritable(int32_t stream_id) override { callbacks_.onStreamWritable(stream_id); }

  bool streamUnfinished(const internal::StreamState& stream) const override {
    return stream.head_delivered && !stream.local_end_sent;
  }

  // nghttp2 ignores new streams only once the GOAWAY has been sent; between submitting and
  // sending, a stream above the promised last-stream-id must not be processed either (the client
  // will treat it as refused and may retry it elsewhere).
  bool acceptStream(int32_t stream_id) override {
    return !final_goaway_submitted_ || stream_id <= goaway_last_stream_id_;
  }

  void onPingAck(const uint8_t* opaque) override {
    if (shutdown_notice_sent_ && memcmp(opaque, kShutdownPing, sizeof(kShutdownPing)) == 0) {
      submitFinalGoAway(final_goaway_code_);
    }
  }

 private:
  // 431 rather than a bare RST_STREAM: the client learns what was wrong, exactly as with the
  // HTTP/1 codec. The stream never reaches the application.
  void refuseTooLarge(internal::StreamState& stream, bool end_stream) {
    stream.ignored = true;
    stream.local_reset = true;  // not charged as a peer-caused reset, not reported
    stream.local_end = true;
    internal::HeaderBlock block;
    block.addPseudo(":status", "431");
    nghttp2_submit_response(session_, stream.id, block.data(), block.size(), nullptr);
    // The rest of the request is unwanted (RFC 9113 8.1: a complete response, then
    // RST_STREAM NO_ERROR).
    stream.reset_after_response = !end_stream;
  }

  void submitFinalGoAway(uint32_t error_code) {
    if (final_goaway_submitted_) return;
    final_goaway_submitted_ = true;
    app_goaway_ = true;
    goaway_last_stream_id_ = nghttp2_session_get_last_proc_stream_id(session_);
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, goaway_last_stream_id_, error_code, nullptr,
                          0);
  }

  ServerCodecCallbacks& callbacks_;
  bool shutdown_notice_sent_ = false;
  bool final_goaway_submitted_ = false;
  uint32_t final_goaway_code_ = NGHTTP2_NO_ERROR;
  int32_t goaway_last_stream_id_ = 0;
};

ServerCodec::ServerCodec(const Http2Settings& settings, ServerCodecCallbacks& callbacks,
                         MonotonicClock clock)
    : impl_(std::make_unique<Impl>(settings, callbacks, std::move(clock))) {}
ServerCodec::~ServerCodec() = default;

absl::Status ServerCodec::dispatch(Buffer& input) { return impl_->dispatch(input); }
void ServerCodec::drainOutput(Buffer& out) { impl_->drainOutput(out); }
bool ServerCodec::wantsWrite() const { return impl_->wantsWrite(); }
bool ServerCodec::shouldClose() const { return impl_->shouldClose(); }
void ServerCodec::encodeHead(int32_t stream_id, const http::ResponseHead& head, bool end_stream) {
  impl_->encodeHead(stream_id, head, end_stream);
}
void ServerCodec::encodeData(int32_t stream_id, Buffer& data, bool end_stream) {
  impl_->encodeData(stream_id, data, end_stream);
}
void ServerCodec::encodeTrailers(int32_t stream_id, const http::HeaderMap& trailers) {
  impl_->encodeTrailers(stream_id, trailers);
}
void ServerCodec::resetStream(int32_t stream_id, uint32_t error_code) {
  impl_->resetStream(stream_id, error_code);
}
void ServerCodec::goAway(uint32_t error_code, bool graceful) {
  impl_->goAway(error_code, graceful);
}
void ServerCodec::consumed(int32_t stream_id, size_t bytes) { impl_->consumed(stream_id, bytes); }
size_t ServerCodec::bufferedBytes(int32_t stream_id) const {
  return impl_->bufferedBytes(stream_id);
}
size_t ServerCodec::activeStreams() const { return impl_->activeStreams(); }

}  // namespace skiff::http2
