#pragma once

// Helpers for the HTTP/2 codec tests: recording callbacks, a back-to-back pump between a
// ClientCodec and a ServerCodec, and hand-made frames (with a minimal HPACK encoder) for the
// attacks a well-behaved nghttp2 client would never send.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/buffer.h"
#include "http/header_map.h"
#include "http2/codec.h"

namespace skiff::http2::testing {

struct StreamRecord {
  bool has_head = false;
  http::RequestHead request;
  http::ResponseHead response;
  bool head_end_stream = false;
  std::string body;
  bool data_end_stream = false;
  bool has_trailers = false;
  http::HeaderMap trailers;
  bool reset = false;
  uint32_t reset_code = 0;
  int writable = 0;
};

class RecordingServer : public ServerCodecCallbacks {
 public:
  void onRequestHead(int32_t id, http::RequestHead&& head, bool end_stream) override {
    StreamRecord& r = streams[id];
    r.has_head = true;
    r.request = std::move(head);
    r.head_end_stream = end_stream;
    order.push_back(id);
  }
  void onRequestData(int32_t id, Buffer& data, bool end_stream) override {
    StreamRecord& r = streams[id];
    size_t n = data.length();
    r.body += data.toString();
    data.clear();
    r.data_end_stream |= end_stream;
    if (auto_consume && codec != nullptr) codec->consumed(id, n);
    unconsumed[id] += auto_consume ? 0 : n;
  }
  void onRequestTrailers(int32_t id, http::HeaderMap&& trailers) override {
    streams[id].has_trailers = true;
    streams[id].trailers = std::move(trailers);
  }
  void onStreamReset(int32_t id, uint32_t code) override {
    streams[id].reset = true;
    streams[id].reset_code = code;
  }
  void onStreamWritable(int32_t id) override { streams[id].writable++; }

  std::map<int32_t, StreamRecord> streams;
  std::map<int32_t, size_t> unconsumed;
  std::vector<int32_t> order;
  bool auto_consume = true;
  ServerCodec* codec = nullptr;
};

class RecordingClient : public ClientCodecCallbacks {
 public:
  void onResponseHead(int32_t id, http::ResponseHead&& head, bool end_stream) override {
    StreamRecord& r = streams[id];
    r.has_head = true;
    r.response = std::move(head);
    r.head_end_stream = end_stream;
  }
  void onResponseData(int32_t id, Buffer& data, bool end_stream) override {
    StreamRecord& r = streams[id];
    size_t n = data.length();
    r.body += data.toString();
    data.clear();
    r.data_end_stream |= end_stream;
    if (auto_consume && codec != nullptr) codec->consumed(id, n);
    unconsumed[id] += auto_consume ? 0 : n;
  }
  void onResponseTrailers(int32_t id, http::HeaderMap&& trailers) override {
    streams[id].has_trailers = true;
    streams[id].trailers = std::move(trailers);
  }
  void onStreamReset(int32_t id, uint32_t code) override {
    streams[id].reset = true;
    streams[id].reset_code = code;
  }
  void onGoAway(int32_t last_stream_id, uint32_t error_code) override {
    goaways.emplace_back(last_stream_id, error_code);
  }
  void onStreamWritable(int32_t id) override { streams[id].writable++; }

  std::map<int32_t, StreamRecord> streams;
  std::map<int32_t, size_t> unconsumed;
  std::vector<std::pair<int32_t, uint32_t>> goaways;
  bool auto_consume = true;
  ClientCodec* codec = nullptr;
};

// Moves bytes both ways until both sides are quiet. Returns the bytes that went server->client.
inline std::string pump(ClientCodec& client, ServerCodec& server, int max_rounds = 1000) {
  std::string to_client;
  for (int i = 0; i < max_rounds; ++i) {
    Buffer c2s;
    client.drainOutput(c2s);
    bool moved = !c2s.empty();
    if (!c2s.empty()) {
      absl::Status status = server.dispatch(c2s);
      (void)status;
    }
    Buffer s2c;
    server.drainOutput(s2c);
    moved |= !s2c.empty();
    to_client += s2c.toString();
    if (!s2c.empty()) {
      absl::Status status = client.dispatch(s2c);
      (void)status;
    }
    if (!moved) break;
  }
  return to_client;
}

// --- Hand-made frames -------------------------------------------------------------------------

constexpr absl::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};
enum FrameFlag : uint8_t { kEndStream = 1, kAck = 1, kEndHeaders = 4 };

inline std::string frame(uint8_t type, uint8_t flags, uint32_t stream_id,
                         absl::string_view payload) {
  std::string out;
  size_t n = payload.size();
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((stream_id >> shift) & 0xff));
  }
  out.append(payload.data(), payload.size());
  return out;
}

inline std::string u32(uint32_t v) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  return out;
}

inline std::string rstStream(uint32_t stream_id, uint32_t code) {
  return frame(kRstStream, 0, stream_id, u32(code));
}

// HPACK integer with an n-bit prefix (RFC 7541 5.1); `first` holds the pattern bits.
inline std::string hpackInt(uint8_t first, int prefix_bits, size_t value) {
  std::string out;
  size_t max = (1u << prefix_bits) - 1;
  if (value < max) {
    out.push_back(static_cast<char>(first | value));
    return out;
  }
  out.push_back(static_cast<char>(first | max));
  value -= max;
  while (value >= 128) {
    out.push_back(static_cast<char>((value % 128) + 128));
    value /= 128;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// Literal field, new name, without indexing (or with incremental indexing).
inline std::string hpackLiteral(absl::string_view name, absl::string_view value,
                                bool index = false) {
  std::string out(1, index ? '\x40' : '\x00');
  out += hpackInt(0, 7, name.size());
  out.append(name.data(), name.size());
  out += hpackInt(0, 7, value.size());
  out.append(value.data(), value.size());
  return out;
}

inline std::string hpackIndexed(size_t index) { return hpackInt(0x80, 7, index); }

inline std::string requestBlock(absl::string_view path = "/",
                                std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::string block = hpackLiteral(":method", "GET") + hpackLiteral(":scheme", "http") +
                      hpackLiteral(":authority", "example.com") + hpackLiteral(":path", path);
  for (const auto& [n, v] : extra) block += hpackLiteral(n, v);
  return block;
}

// Preface and an empty SETTINGS frame.
inline std::string clientStart() { return std::string(kPreface) + frame(kSettings, 0, 0, ""); }

struct ParsedFrame {
  uint8_t type;
  uint8_t flags;
  uint32_t stream_id;
  std::string payload;
  uint32_t code() const {  // RST_STREAM: first 4 bytes; GOAWAY: bytes 4..8
    size_t at = type == kGoAway ? 4 : 0;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(payload[at + i]);
    return v;
  }
  uint32_t lastStreamId() const {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(payload[i]);
    return v & 0x7fffffff;
  }
};

inline std::vector<ParsedFrame> parseFrames(absl::string_view wire) {
  std::vector<ParsedFrame> frames;
  size_t at = 0;
  while (wire.size() - at >= 9) {
    auto b = [&](size_t i) { return static_cast<uint8_t>(wire[at + i]); };
    size_t len = (size_t{b(0)} << 16) | (size_t{b(1)} << 8) | b(2);
    if (wire.size() - at < 9 + len) break;
    ParsedFrame f;
    f.type = b(3);
    f.flags = b(4);
    f.stream_id = ((uint32_t{b(5)} << 24) | (uint32_t{b(6)} << 16) | (uint32_t{b(7)} << 8) | b(8)) &
                  0x7fffffff;
    f.payload = std::string(wire.substr(at + 9, len));
    frames.push_back(std::move(f));
    at += 9 + len;
  }
  return frames;
}

inline std::vector<ParsedFrame> framesOfType(absl::string_view wire, uint8_t type) {
  std::vector<ParsedFrame> out;
  for (auto& f : parseFrames(wire)) {
    if (f.type == type) out.push_back(f);
  }
  return out;
}

}  // namespace skiff::http2::testing
