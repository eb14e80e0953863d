// Drives the HTTP/2 ServerCodec with arbitrary client bytes, fed in input-chosen pieces, with an
// application that answers every request (head, body, trailers, sometimes trailers-only or a
// reset) and consumes what it receives, so the send path, flow control and stream bookkeeping
// run as well as the parser. Checks the codec's promises: callbacks per stream come in order,
// nothing arrives after a reset, output stays bounded, and after a connection error the codec
// stays dead.
//
// Input layout: byte 0 picks settings and answers, byte 1 the piece size, the rest is the wire
// (a client connection preface and frames; see tests/fuzz/corpus/http2).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "common/buffer.h"
#include "http/header_map.h"
#include "http2/codec.h"

namespace skiff::http2 {
namespace {

void check(bool condition) {
  if (!condition) abort();
}

struct StreamSeen {
  bool head = false;
  bool ended = false;
  bool reset = false;
};

class FuzzApp : public ServerCodecCallbacks {
 public:
  explicit FuzzApp(uint8_t flags) : flags_(flags) {}

  void onRequestHead(int32_t id, http::RequestHead&& head, bool end_stream) override {
    StreamSeen& s = streams_[id];
    check(!s.head && !s.reset);
    check(id > 0 && (id & 1) == 1);
    check(head.protocol == http::Protocol::kHttp2);
    check(!head.method.empty());
    check(!head.headers.has("host"));
    s.head = true;
    s.ended = end_stream;
    answer(id, head);
  }
  void onRequestData(int32_t id, Buffer& data, bool end_stream) override {
    StreamSeen& s = streams_[id];
    check(s.head && !s.ended && !s.reset);
    codec->consumed(id, data.length());
    data.clear();
    s.ended = end_stream;
  }
  void onRequestTrailers(int32_t id, http::HeaderMap&& trailers) override {
    StreamSeen& s = streams_[id];
    check(s.head && !s.ended && !s.reset);
    s.ended = true;
  }
  void onStreamReset(int32_t id, uint32_t error_code) override {
    StreamSeen& s = streams_[id];
    check(s.head && !s.reset);
    s.reset = true;
  }

  ServerCodec* codec = nullptr;

 private:
  void answer(int32_t id, const http::RequestHead& request) {
    http::ResponseHead head;
    head.status = 200;
    head.headers.add("content-type", "application/grpc");
    switch ((flags_ >> 2) % 4) {
      case 0:  // trailers-only
        head.headers.add("grpc-status", "0");
        codec->encodeHead(id, head, true);
        break;
      case 1: {  // body and trailers
        codec->encodeHead(id, head, false);
        Buffer body;
        body.add(std::string(request.path.size() * 100, 'r'));
        codec->encodeData(id, body, false);
        http::HeaderMap trailers;
        trailers.add("grpc-status", "0");
        codec->encodeTrailers(id, trailers);
        break;
      }
      case 2:
        codec->resetStream(id, kCancel);
        break;
      default:  // head now, body later (left open: exercises deferred data)
        codec->encodeHead(id, head, false);
        break;
    }
  }

  uint8_t flags_;
  std::map<int32_t, StreamSeen> streams_;
};

}  // namespace
}  // namespace skiff::http2

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff;
  using namespace skiff::http2;
  if (size < 2) return 0;
  uint8_t flags = data[0];
  size_t piece = 1 + data[1] * 4;
  data += 2;
  size -= 2;

  Http2Settings settings;
  if (flags & 1) {
    // Small limits reach the refusal paths with short inputs.
    settings.max_concurrent_streams = 2;
    settings.initial_stream_window_size = 100;
    settings.initial_connection_window_size = 65535;
    settings.max_header_list_size = 200;
    settings.stream_reset_burst = 5;
    settings.max_outbound_control_frames = 10;
    settings.stream_buffer_limit = 1000;
  }
  FuzzApp app(flags);
  auto now = std::chrono::steady_clock::time_point();
  ServerCodec codec(settings, app, [&now] { return now; });
  app.codec = &codec;

  bool failed = false;
  size_t offset = 0;
  while (offset < size) {
    size_t n = std::min(piece, size - offset);
    Buffer in;
    in.add(data + offset, n);
    offset += n;
    absl::Status status = codec.dispatch(in);
    check(in.empty());
    if (!status.ok()) {
      failed = true;
    } else {
      check(!failed);  // once dead, always dead
    }
    if (!(flags & 2)) {
      Buffer out;
      codec.drainOutput(out);
      // Output per round is bounded by windows and the control-frame limit.
      check(out.length() < 64 * 1024 * 1024);
    }
  }
  Buffer out;
  codec.drainOutput(out);
  return 0;
}
