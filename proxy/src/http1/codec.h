#pragma once

// A strict HTTP/1.1 codec (RFC 9112), without I/O: decoders turn bytes into protocol-neutral
// heads, body data and trailers; encoders turn them back into bytes.
//
// Decoders stop after each complete message (and after the head of an upgrade request or a
// 101 response), leaving the rest of the input untouched, so the connection manager handles one
// request at a time and can switch a connection to raw passthrough.

#include <cstdint>
#include <optional>
#include <string>

#include "common/buffer.h"
#include "http/header_map.h"

namespace skiff::http1 {

struct CodecLimits {
  // Start line plus all header lines, including CRLFs. Exceeding it: 431.
  size_t max_header_bytes = 60 * 1024;
  size_t max_header_count = 100;
  // Request bodies only; 0 means unlimited. Exceeding it: 413.
  uint64_t max_body_bytes = 0;
};

// A malformed or unacceptable message, with the status a server answers it with
// (400, 413, 431, 501 for an unsupported transfer coding, 505 for an unsupported version).
// ResponseDecoder errors always carry 502: a bad upstream response is the gateway's problem.
struct CodecError {
  int status = 400;
  std::string detail;  // short, safe to send to the client
};

class RequestDecoderCallbacks {
 public:
  virtual ~RequestDecoderCallbacks() = default;
  // `end_stream`: the request has no body.
  virtual void onRequestHead(http::RequestHead&& head, bool end_stream) = 0;
  // The callee may move bytes out of `data`; `end_stream` marks the last piece (may be empty).
  virtual void onRequestData(Buffer& data, bool end_stream) = 0;
  // Trailers of a chunked body; ends the request.
  virtual void onRequestTrailers(http::HeaderMap&& trailers) = 0;
};

class RequestDecoder {
 public:
  RequestDecoder(const CodecLimits& limits, RequestDecoderCallbacks& callbacks);
  ~RequestDecoder();

  // Consumes what it can of `input`, delivering callbacks. Stops after a complete request (see
  // messageComplete()) or an upgrade request's head. Once an error is returned the decoder is
  // dead and the connection must be answered and closed.
  std::optional<CodecError> dispatch(Buffer& input);

  // The current request has been fully delivered; dispatch() consumes nothing until
  // startNextMessage().
  bool messageComplete() const;
  void startNextMessage();
  // The current request asked to upgrade (Connection: upgrade + Upgrade:). Its head has been
  // delivered with end_stream=true; what follows on the wire is not HTTP and is left to the
  // caller.
  bool upgradeRequested() const;
  // Bytes of the current message consumed so far (head + body framing).
  uint64_t bytesConsumed() const;

 private:
  class Impl;
  Impl* impl_;
};

class ResponseDecoderCallbacks {
 public:
  virtual ~ResponseDecoderCallbacks() = default;
  // 1xx responses other than 101 are swallowed. A 101 ends decoding (raw bytes follow).
  virtual void onResponseHead(http::ResponseHead&& head, bool end_stream) = 0;
  virtual void onResponseData(Buffer& data, bool end_stream) = 0;
  virtual void onResponseTrailers(http::HeaderMap&& trailers) = 0;
};

class ResponseDecoder {
 public:
  ResponseDecoder(const CodecLimits& limits, ResponseDecoderCallbacks& callbacks);
  ~ResponseDecoder();

  // Must be called before each response: a response to HEAD (or a 204/304) has no body.
  // Called while a response is still being decoded (pipelined requests), the expectation is
  // queued; the dispatch() after the current response completes starts the next one.
  void expectResponseTo(absl::string_view request_method);
  std::optional<CodecError> dispatch(Buffer& input);
  // The upstream closed its side: completes a close-delimited body, or reports an error if a
  // response was cut short.
  std::optional<CodecError> onEndOfInput();
  bool messageComplete() const;
  // Whether the peer allows reuse of the connection after this response.
  bool keepAlive() const;

 private:
  class Impl;
  Impl* impl_;
};

// How a message body is delimited on the wire.
enum class BodyFraming { kNone, kContentLength, kChunked, kCloseDelimited };

// Request line, "host: <authority>", then headers (names as stored, lower-case). Adds
// "transfer-encoding: chunked" for kChunked; a content-length must already be in the headers.
// The encoder owns the transfer-encoding header: entries of it in `head.headers` are never
// written, and with kChunked neither is content-length (RFC 9112 6.2). A "host" entry is
// skipped when the authority is written.
void encodeRequestHead(const http::RequestHead& head, BodyFraming framing, Buffer& out);
// Status line (version from head.protocol) and headers, as above.
void encodeResponseHead(const http::ResponseHead& head, BodyFraming framing, Buffer& out);
// Body bytes, chunk-framed for kChunked (with the last-chunk when end_stream and no trailers
// follow). Moves the bytes out of `data`.
void encodeData(BodyFraming framing, Buffer& data, bool end_stream, Buffer& out);
// Ends a chunked body with trailers; for other framings the trailers are dropped.
void encodeTrailers(BodyFraming framing, const http::HeaderMap& trailers, Buffer& out);

// RFC 9112 9.3: persistence from version and Connection header.
bool wantsKeepAlive(http::Protocol protocol, const http::HeaderMap& headers);

}  // namespace skiff::http1
