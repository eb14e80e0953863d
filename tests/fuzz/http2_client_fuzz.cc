// Drives the HTTP/2 ClientCodec (the proxy's upstream side) with arbitrary server bytes, fed in
// input-chosen pieces, after opening a few requests (with and without bodies and trailers). The
// application consumes what it receives, sometimes resets a stream on its head, and opens a new
// request whenever a response completes, so the send path and stream bookkeeping run as well as
// the parser. Checks the codec's promises: callbacks only for streams we opened, in order, none
// after the end or a reset; heads are final (2xx..5xx, interim ones skipped); after GOAWAY
// newStream() fails and every stream above last_stream_id has ended (refused ones with
// REFUSED_STREAM); newStream() respects the server's concurrency limit; all input is consumed;
// once dispatch() has failed the codec stays dead.
//
// Input layout: byte 0 picks settings and behaviour, byte 1 the piece size, the rest is what the
// server sends (SETTINGS and frames; see tests/fuzz/corpus/http2_client and
// tests/fuzz/make_http2_client_seeds.py).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "common/buffer.h"
#include "fuzz_check.h"
#include "http/header_map.h"
#include "http2/codec.h"

namespace skiff::http2 {
namespace {

struct StreamSeen {
  bool head = false;
  bool ended = false;  // END_STREAM or trailers seen
  bool reset = false;  // by the codec, or by us
};

class FuzzUpstreamApp : public ClientCodecCallbacks {
 public:
  explicit FuzzUpstreamApp(uint8_t flags) : flags_(flags) {}

  // Opens one request; whether it may fail is the caller's business.
  void open(int n) {
    FUZZ_CHECK(codec != nullptr);
    const size_t active_before = codec->activeStreams();
    const uint32_t limit = codec->remoteMaxConcurrentStreams();
    http::RequestHead head;
    head.method = n % 3 == 0 ? "POST" : "GET";
    head.path = "/fuzz/" + std::to_string(n);
    head.authority = "upstream.test";
    head.headers.add("te", "trailers");
    head.headers.add("connection", "close");  // connection-specific: the codec drops it
    const bool with_body = head.method == "POST";
    absl::StatusOr<int32_t> id = codec->newStream(head, !with_body);
    if (!id.ok()) {
      // Refusals are the documented ones only.
      FUZZ_CHECK(goaway_seen_ || active_before >= limit || absl::IsUnavailable(id.status()));
      return;
    }
    FUZZ_CHECK(!goaway_seen_ && !codec->goAwayReceived());
    FUZZ_CHECK(active_before < limit);
    FUZZ_CHECK(*id > 0 && (*id & 1) == 1 && streams_.count(*id) == 0);
    streams_[*id];
    if (with_body) {
      Buffer body;
      body.add(std::string(100 + (n % 4) * 1000, 'b'));
      codec->encodeData(*id, body, false);
      FUZZ_CHECK(body.empty());
      http::HeaderMap trailers;
      trailers.add("x-checksum", std::to_string(n));
      codec->encodeTrailers(*id, trailers);
    }
  }

  void onResponseHead(int32_t id, http::ResponseHead&& head, bool end_stream) override {
    StreamSeen& s = known(id);
    FUZZ_CHECK(!s.head && !s.ended && !s.reset);
    FUZZ_CHECK(head.status >= 200 && head.status <= 599);
    FUZZ_CHECK(head.protocol == http::Protocol::kHttp2);
    for (const auto& [name, value] : head.headers.entries())
      FUZZ_CHECK(!name.empty() && name[0] != ':');
    s.head = true;
    if (flags_ & 0x10 && id % 4 == 3) {
      s.reset = true;
      codec->resetStream(id, kCancel);
      return;
    }
    if (end_stream) finish(s);
  }
  void onResponseData(int32_t id, Buffer& data, bool end_stream) override {
    StreamSeen& s = known(id);
    FUZZ_CHECK(s.head && !s.ended && !s.reset);
    if (!(flags_ & 0x20)) codec->consumed(id, data.length());
    data.clear();
    if (end_stream) finish(s);
  }
  void onResponseTrailers(int32_t id, http::HeaderMap&& trailers) override {
    StreamSeen& s = known(id);
    FUZZ_CHECK(s.head && !s.ended && !s.reset);
    finish(s);
  }
  void onStreamReset(int32_t id, uint32_t error_code) override {
    StreamSeen& s = known(id);
    FUZZ_CHECK(!s.ended && !s.reset);
    if (goaway_seen_ && id > last_stream_id_) FUZZ_CHECK(error_code == kRefusedStream);
    s.reset = true;
  }
  void onGoAway(int32_t last_stream_id, uint32_t error_code) override {
    goaway_seen_ = true;
    last_stream_id_ = std::min(last_stream_id_, last_stream_id);
  }

  // After each dispatch: what a GOAWAY promised has happened.
  void checkAfterDispatch() {
    FUZZ_CHECK(codec->goAwayReceived() == goaway_seen_);
    if (!goaway_seen_) return;
    for (const auto& [id, s] : streams_) {
      if (id > last_stream_id_) FUZZ_CHECK(s.ended || s.reset);
    }
  }

  ClientCodec* codec = nullptr;
  int completed = 0;

 private:
  StreamSeen& known(int32_t id) {
    auto it = streams_.find(id);
    FUZZ_CHECK(it != streams_.end());  // never a callback for a stream we did not open
    return it->second;
  }
  void finish(StreamSeen& s) {
    s.ended = true;
    ++completed;
  }

  uint8_t flags_;
  bool goaway_seen_ = false;
  int32_t last_stream_id_ = INT32_MAX;
  std::map<int32_t, StreamSeen> streams_;
};

}  // namespace
}  // namespace skiff::http2

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff;
  using namespace skiff::http2;
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const size_t piece = 1 + data[1] * 4;
  data += 2;
  size -= 2;

  Http2Settings settings;
  if (flags & 1) {
    // Small limits reach the refusal paths with short inputs.
    settings.initial_stream_window_size = 100;
    settings.initial_connection_window_size = 65535;
    settings.max_header_list_size = 200;
    settings.max_outbound_control_frames = 10;
    settings.stream_buffer_limit = 1000;
  }
  FuzzUpstreamApp app(flags);
  ClientCodec codec(settings, app);
  app.codec = &codec;
  int opened = 0;
  const int initial = 1 + (flags >> 2) % 4;
  while (opened < initial) app.open(opened++);

  bool failed = false;
  size_t offset = 0;
  while (offset < size) {
    if (!(flags & 2)) {
      Buffer out;
      codec.drainOutput(out);
      FUZZ_CHECK(out.length() < 64 * 1024 * 1024);
    }
    const size_t n = std::min(piece, size - offset);
    Buffer in;
    in.add(data + offset, n);
    offset += n;
    const int completed_before = app.completed;
    absl::Status status = codec.dispatch(in);
    FUZZ_CHECK(in.empty());
    if (!status.ok()) {
      failed = true;
    } else {
      FUZZ_CHECK(!failed);  // once dead, always dead
    }
    app.checkAfterDispatch();
    // A pool reuses the connection for the next request once one completes.
    if (!failed && app.completed > completed_before && opened < 64) app.open(opened++);
  }
  Buffer out;
  codec.drainOutput(out);
  return 0;
}
