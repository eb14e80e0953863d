// Drives the HTTP/1 request and response decoders over arbitrary bytes, split at an
// input-chosen point, and re-encodes what they decoded. For requests it also checks that the
// re-encoded message decodes to the same thing: a proxy must never change a message's meaning
// when it forwards it.
//
// Input layout: byte 0 picks limits and the response method, byte 1 the split point, the rest
// is the wire.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "http/header_map.h"
#include "http1/codec.h"

namespace skiff::http1 {
namespace {

void check(bool condition) {
  if (!condition) abort();
}

struct RequestMessage {
  http::RequestHead head;
  bool has_head = false;
  std::string body;
  bool has_trailers = false;
  http::HeaderMap trailers;
  int ends = 0;
};

class RequestCapture : public RequestDecoderCallbacks {
 public:
  void onRequestHead(http::RequestHead&& head, bool end_stream) override {
    check(!message.has_head);
    message.head = std::move(head);
    message.has_head = true;
    message.ends += end_stream;
  }
  void onRequestData(Buffer& data, bool end_stream) override {
    check(message.has_head && message.ends == 0 && !message.has_trailers);
    message.body += data.toString();
    data.drain(data.length());
    message.ends += end_stream;
  }
  void onRequestTrailers(http::HeaderMap&& trailers) override {
    check(message.has_head && message.ends == 0 && !message.has_trailers);
    message.trailers = std::move(trailers);
    message.has_trailers = true;
  }
  RequestMessage message;
};

http::HeaderMap withoutTransferEncoding(const http::HeaderMap& headers) {
  http::HeaderMap out = headers;
  out.remove("transfer-encoding");
  return out;
}

void reencodeAndCheck(const RequestMessage& message) {
  check(message.ends + message.has_trailers == 1);
  const http::RequestHead& head = message.head;
  BodyFraming framing = BodyFraming::kNone;
  if (head.headers.has("transfer-encoding")) {
    framing = BodyFraming::kChunked;
  } else if (head.headers.has("content-length")) {
    framing = BodyFraming::kContentLength;
  }
  Buffer wire;
  encodeRequestHead(head, framing, wire);
  Buffer body;
  body.add(message.body);
  encodeData(framing, body, !message.has_trailers, wire);
  if (message.has_trailers) encodeTrailers(framing, message.trailers, wire);

  // HTTP/1.0 requests without Host go out as HTTP/1.1 without Host; only the proxy can fill
  // it in, so they cannot be compared here.
  if (head.authority.empty()) return;

  CodecLimits unlimited;
  unlimited.max_header_bytes = SIZE_MAX;
  unlimited.max_header_count = SIZE_MAX;
  RequestCapture again;
  RequestDecoder decoder(unlimited, again);
  std::optional<CodecError> error = decoder.dispatch(wire);
  check(!error.has_value());
  check(decoder.messageComplete());
  check(wire.empty());
  const RequestMessage& m = again.message;
  check(m.head.method == head.method);
  check(m.head.path == head.path);
  check(m.head.authority == head.authority);
  check(withoutTransferEncoding(m.head.headers).entries() ==
        withoutTransferEncoding(head.headers).entries());
  check(m.body == message.body);
  check(m.has_trailers == message.has_trailers);
  if (m.has_trailers) check(m.trailers.entries() == message.trailers.entries());
}

void fuzzRequests(const CodecLimits& limits, const std::string& wire, size_t split) {
  RequestCapture capture;
  RequestDecoder decoder(limits, capture);
  Buffer input;
  input.add(wire.data(), split);
  size_t fed = split;
  for (int messages = 0; messages < 64; ++messages) {
    std::optional<CodecError> error = decoder.dispatch(input);
    if (!error && !decoder.messageComplete() && fed < wire.size()) {
      input.add(wire.data() + fed, wire.size() - fed);
      fed = wire.size();
      error = decoder.dispatch(input);
    }
    if (error) {
      check(error->status >= 400 && error->status <= 505);
      check(!error->detail.empty());
      return;
    }
    if (!decoder.messageComplete()) return;
    check(decoder.bytesConsumed() <= wire.size());
    reencodeAndCheck(capture.message);
    if (decoder.upgradeRequested()) return;
    capture.message = RequestMessage();
    decoder.startNextMessage();
    if (input.empty() && fed == wire.size()) return;
  }
}

class ResponseCapture : public ResponseDecoderCallbacks {
 public:
  void onResponseHead(http::ResponseHead&& head, bool end_stream) override {
    check(head.status >= 101 && head.status <= 599);
    framing = head.headers.has("transfer-encoding") ? BodyFraming::kChunked
                                                    : BodyFraming::kContentLength;
    encodeResponseHead(head, framing, out);
    if (end_stream) {
      Buffer empty;
      encodeData(framing, empty, true, out);
    }
  }
  void onResponseData(Buffer& data, bool end_stream) override {
    encodeData(framing, data, end_stream, out);
  }
  void onResponseTrailers(http::HeaderMap&& trailers) override {
    encodeTrailers(framing, trailers, out);
  }
  BodyFraming framing = BodyFraming::kNone;
  Buffer out;
};

void fuzzResponses(const CodecLimits& limits, bool head_request, const std::string& wire,
                   size_t split) {
  ResponseCapture capture;
  ResponseDecoder decoder(limits, capture);
  decoder.expectResponseTo(head_request ? "HEAD" : "GET");
  Buffer input;
  input.add(wire.data(), split);
  std::optional<CodecError> error = decoder.dispatch(input);
  input.add(wire.data() + split, wire.size() - split);
  for (int messages = 0; !error && messages < 64; ++messages) {
    error = decoder.dispatch(input);
    if (error || !decoder.messageComplete() || input.empty()) break;
    decoder.expectResponseTo(messages % 2 ? "HEAD" : "GET");
  }
  if (!error) error = decoder.onEndOfInput();
  if (error) {
    check(error->status == 502);
    check(!decoder.keepAlive());
  }
  capture.out.clear();
}

}  // namespace
}  // namespace skiff::http1

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff::http1;
  if (size < 2) return 0;
  uint8_t flags = data[0];
  std::string wire(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t split = wire.empty() ? 0 : data[1] % (wire.size() + 1);

  CodecLimits limits;
  if (flags & 1) {
    // Small limits reach the 431 and 413 paths with short inputs.
    limits.max_header_bytes = 64 + (flags >> 4) * 16;
    limits.max_header_count = 1 + ((flags >> 2) & 3);
    limits.max_body_bytes = (flags >> 4) * 3;
  }
  fuzzRequests(limits, wire, split);
  fuzzResponses(limits, flags & 2, wire, split);
  return 0;
}
