#pragma once

// The part of HTTP/1 decoding that requests and responses share: line splitting with size
// limits, field lines, body framing (RFC 9112 6.3) and the chunked coding. The request and
// response decoders add their start line and their framing rules through a few hooks that run
// once per message, never per byte.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/buffer.h"
#include "http/header_map.h"
#include "http1/codec.h"

namespace skiff::http1::internal {

// Framing facts collected while the field lines of a head are parsed, so that the
// end-of-head decision needs no second pass over the headers.
struct FramingFacts {
  bool has_content_length = false;
  bool collapse_content_length = false;  // repeated or listed identical values
  uint64_t content_length = 0;
  bool has_transfer_encoding = false;
  bool invalid_coding = false;
  int coding_count = 0;
  int chunked_count = 0;
  bool last_coding_chunked = false;
  int host_count = 0;
  std::string host;
};

enum class Framing { kNone, kLength, kChunked, kClose };

class MessageDecoder {
 public:
  // A chunk-size line (with extensions) longer than this is refused.
  static constexpr size_t kMaxChunkSizeLine = 4096;

  // `is_request`: errors carry the status a server answers with; response errors all carry
  // 502 and request-only rules (Host, body limit, codings other than chunked) are skipped.
  MessageDecoder(const CodecLimits& limits, bool is_request);
  virtual ~MessageDecoder() = default;
  MessageDecoder(const MessageDecoder&) = delete;
  MessageDecoder& operator=(const MessageDecoder&) = delete;

  std::optional<CodecError> dispatch(Buffer& input);
  bool complete() const { return state_ == State::kComplete; }
  bool failed() const { return state_ == State::kError; }
  // Nothing of the current message has been consumed yet.
  bool idle() const { return state_ == State::kStartLine && consumed_ == 0; }
  uint64_t bytesConsumed() const { return consumed_; }
  // Forgets the finished message; a dead decoder stays dead.
  void reset();

 protected:
  enum class State {
    kStartLine,
    kHeaders,
    kFixedBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kCloseDelimited,
    kComplete,
    kError,
  };

  // The start line without its CRLF.
  virtual std::optional<CodecError> onStartLine(absl::string_view line) = 0;
  // The empty line ending the head was consumed; field lines are in headers_. The hook calls
  // startBody() (after which it may deliver the head) or restartHead().
  virtual std::optional<CodecError> onHeadComplete() = 0;
  virtual void onBody(Buffer& data, bool end_stream) = 0;
  virtual void onTrailers(http::HeaderMap&& trailers) = 0;

  CodecError fail(int status, std::string detail);
  // RFC 9112 6.3 rules shared by both directions; collapses repeated identical Content-Length
  // values in headers_ into one.
  std::optional<CodecError> resolveFraming(http::Protocol protocol, Framing* framing);
  // Moves to the body (or straight to kComplete for kNone and empty kLength bodies).
  void startBody(Framing framing, uint64_t length);
  // Discards the head parsed so far (an interim 1xx response) and expects a new start line.
  void restartHead();
  // Ends a close-delimited body at end of input.
  void finishCloseDelimited();
  bool inCloseDelimitedBody() const { return state_ == State::kCloseDelimited; }

  const CodecLimits limits_;
  const bool is_request_;
  http::HeaderMap headers_;
  FramingFacts facts_;
  State state_ = State::kStartLine;

 private:
  std::optional<CodecError> run(Buffer& input);
  // Finds the next CRLF-terminated line within `max_size` bytes (CRLF included). Sets `*line`
  // (without CRLF) and `*size` (with it) or leaves `*size` at 0 when more input is needed.
  std::optional<CodecError> readLine(Buffer& input, size_t max_size, int too_long_status,
                                     absl::string_view* line, size_t* size);
  std::optional<CodecError> onFieldLine(absl::string_view line, bool trailer);
  std::optional<CodecError> onChunkSizeLine(absl::string_view line);
  void finishTrailers();

  size_t head_bytes_ = 0;    // of the head or the trailer section being parsed
  size_t field_count_ = 0;   // same
  size_t scan_offset_ = 0;   // input bytes already searched for LF without success
  uint64_t consumed_ = 0;
  uint64_t remaining_ = 0;   // of the fixed body or the current chunk
  uint64_t body_bytes_ = 0;  // announced chunk sizes so far, for max_body_bytes
  Buffer body_;              // body bytes gathered during one dispatch()
  http::HeaderMap trailers_;
  CodecError error_;
};

}  // namespace skiff::http1::internal
