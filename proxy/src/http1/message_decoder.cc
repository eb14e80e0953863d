#include "http1/message_decoder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "http1/parse_util.h"

namespace skiff::http1::internal {

MessageDecoder::MessageDecoder(const CodecLimits& limits, bool is_request)
    : limits_(limits), is_request_(is_request) {}

CodecError MessageDecoder::fail(int status, std::string detail) {
  state_ = State::kError;
  error_.status = is_request_ ? status : 502;
  error_.detail = std::move(detail);
  body_.clear();
  return error_;
}

void MessageDecoder::reset() {
  if (state_ == State::kError) return;
  state_ = State::kStartLine;
  headers_.clear();
  facts_ = FramingFacts();
  trailers_.clear();
  head_bytes_ = 0;
  field_count_ = 0;
  scan_offset_ = 0;
  consumed_ = 0;
  remaining_ = 0;
  body_bytes_ = 0;
  body_.clear();
}

void MessageDecoder::restartHead() {
  headers_.clear();
  facts_ = FramingFacts();
  head_bytes_ = 0;
  field_count_ = 0;
  state_ = State::kStartLine;
}

std::optional<CodecError> MessageDecoder::dispatch(Buffer& input) {
  if (state_ == State::kError) return error_;
  if (std::optional<CodecError> error = run(input)) return error;
  // Body bytes are handed over once per dispatch rather than once per chunk.
  if (!body_.empty() && state_ != State::kError) {
    onBody(body_, false);
    body_.clear();
  }
  return std::nullopt;
}

std::optional<CodecError> MessageDecoder::readLine(Buffer& input, size_t max_size,
                                                   int too_long_status, absl::string_view* line,
                                                   size_t* size) {
  *size = 0;
  if (scan_offset_ > input.length()) scan_offset_ = 0;
  // Fast path: the line lies in the first slice, as it almost always does.
  absl::string_view front = input.frontSlice();
  if (scan_offset_ < front.size()) {
    const void* hit = memchr(front.data() + scan_offset_, '\n', front.size() - scan_offset_);
    if (hit != nullptr) {
      size_t lf = static_cast<const char*>(hit) - front.data();
      scan_offset_ = 0;
      if (lf + 1 > max_size) return fail(too_long_status, "line too long");
      if (lf == 0 || front[lf - 1] != '\r') return fail(400, "bare LF line ending");
      *line = front.substr(0, lf - 1);
      *size = lf + 1;
      return std::nullopt;
    }
  }
  ptrdiff_t lf = input.search("\n", scan_offset_);
  if (lf < 0) {
    if (input.length() >= max_size) return fail(too_long_status, "line too long");
    scan_offset_ = input.length();
    return std::nullopt;
  }
  scan_offset_ = 0;
  size_t line_size = static_cast<size_t>(lf) + 1;
  if (line_size > max_size) return fail(too_long_status, "line too long");
  absl::string_view bytes = input.linearize(line_size);
  if (lf == 0 || bytes[lf - 1] != '\r') return fail(400, "bare LF line ending");
  *line = bytes.substr(0, lf - 1);
  *size = line_size;
  return std::nullopt;
}

std::optional<CodecError> MessageDecoder::run(Buffer& input) {
  while (true) {
    switch (state_) {
      case State::kComplete:
      case State::kError:
        return std::nullopt;

      case State::kStartLine:
      case State::kHeaders:
      case State::kTrailers: {
        size_t budget =
            limits_.max_header_bytes > head_bytes_ ? limits_.max_header_bytes - head_bytes_ : 0;
        absl::string_view line;
        size_t size;
        if (auto error = readLine(input, budget, 431, &line, &size)) return error;
        if (size == 0) return std::nullopt;
        head_bytes_ += size;
        if (line.empty()) {
          input.drain(size);
          consumed_ += size;
          if (state_ == State::kHeaders) {
            if (auto error = onHeadComplete()) return error;
          } else if (state_ == State::kTrailers) {
            finishTrailers();
          }
          // RFC 9112 2.2: empty lines before a start line are ignored (counted in the limit).
          continue;
        }
        std::optional<CodecError> error;
        if (state_ == State::kStartLine) {
          error = onStartLine(line);
          if (!error) state_ = State::kHeaders;
        } else {
          error = onFieldLine(line, state_ == State::kTrailers);
        }
        if (error) return error;
        input.drain(size);
        consumed_ += size;
        continue;
      }

      case State::kFixedBody:
      case State::kChunkData: {
        if (input.empty()) return std::nullopt;
        uint64_t n = std::min<uint64_t>(remaining_, input.length());
        body_.move(input, static_cast<size_t>(n));
        remaining_ -= n;
        consumed_ += n;
        if (remaining_ > 0) return std::nullopt;
        if (state_ == State::kChunkData) {
          state_ = State::kChunkDataEnd;
          continue;
        }
        state_ = State::kComplete;
        onBody(body_, true);
        body_.clear();
        return std::nullopt;
      }

      case State::kChunkDataEnd: {
        if (input.empty()) return std::nullopt;
        absl::string_view crlf = input.linearize(std::min<size_t>(2, input.length()));
        if (crlf[0] != '\r' || (crlf.size() == 2 && crlf[1] != '\n')) {
          return fail(400, "missing CRLF after chunk data");
        }
        if (crlf.size() < 2) return std::nullopt;
        input.drain(2);
        consumed_ += 2;
        state_ = State::kChunkSize;
        continue;
      }

      case State::kChunkSize: {
        absl::string_view line;
        size_t size;
        if (auto error = readLine(input, kMaxChunkSizeLine, 400, &line, &size)) return error;
        if (size == 0) return std::nullopt;
        if (auto error = onChunkSizeLine(line)) return error;
        input.drain(size);
        consumed_ += size;
        continue;
      }

      case State::kCloseDelimited: {
        consumed_ += input.length();
        body_.move(input);
        return std::nullopt;
      }
    }
  }
}

std::optional<CodecError> MessageDecoder::onFieldLine(absl::string_view line, bool trailer) {
  if (++field_count_ > limits_.max_header_count) return fail(431, "too many header fields");
  absl::string_view name;
  absl::string_view value;
  if (!parseFieldLine(line, &name, &value)) {
    if (isWhitespace(line[0])) return fail(400, "obsolete line folding");
    return fail(400, "invalid header field");
  }
  std::string lower = lowerToken(name);
  if (trailer) {
    trailers_.add(std::move(lower), std::string(value));
    return std::nullopt;
  }
  switch (lower.size()) {
    case 4:
      if (is_request_ && lower == "host") {
        ++facts_.host_count;
        facts_.host.assign(value.data(), value.size());
        return std::nullopt;  // Host travels as the authority, not as a header.
      }
      break;
    case 14:
      if (lower == "content-length") {
        uint64_t length;
        if (!parseContentLength(value, &length)) return fail(400, "invalid content-length");
        if (facts_.has_content_length && length != facts_.content_length) {
          return fail(400, "conflicting content-length");
        }
        facts_.collapse_content_length |=
            facts_.has_content_length || value.find(',') != absl::string_view::npos;
        facts_.has_content_length = true;
        facts_.content_length = length;
      }
      break;
    case 17:
      if (lower == "transfer-encoding") {
        facts_.has_transfer_encoding = true;
        forEachListElement(value, [this](absl::string_view element) {
          // transfer-coding = token *( OWS ";" OWS transfer-parameter ); parameters ignored.
          absl::string_view coding = trimWhitespace(element.substr(0, element.find(';')));
          if (!isToken(coding)) facts_.invalid_coding = true;
          ++facts_.coding_count;
          facts_.last_coding_chunked = equalsIgnoreCase(coding, "chunked");
          facts_.chunked_count += facts_.last_coding_chunked;
          return true;
        });
      }
      break;
    default:
      break;
  }
  headers_.add(std::move(lower), std::string(value));
  return std::nullopt;
}

std::optional<CodecError> MessageDecoder::resolveFraming(http::Protocol protocol,
                                                         Framing* framing) {
  if (facts_.has_transfer_encoding) {
    // Each of these is a way to make two parsers disagree on where the body ends.
    if (protocol == http::Protocol::kHttp10) return fail(400, "transfer-encoding in HTTP/1.0");
    if (facts_.has_content_length) return fail(400, "both content-length and transfer-encoding");
    if (facts_.invalid_coding || facts_.coding_count == 0) {
      return fail(400, "invalid transfer-encoding");
    }
    if (facts_.chunked_count > 1) return fail(400, "chunked applied more than once");
    if (!facts_.last_coding_chunked) {
      if (is_request_) return fail(400, "final transfer coding is not chunked");
      *framing = Framing::kClose;  // RFC 9112 6.3 rule 4, responses only
      return std::nullopt;
    }
    if (is_request_ && facts_.coding_count > 1) return fail(501, "unsupported transfer coding");
    *framing = Framing::kChunked;
    return std::nullopt;
  }
  if (facts_.has_content_length) {
    if (facts_.collapse_content_length) {
      headers_.set("content-length", absl::StrCat(facts_.content_length));
    }
    *framing = Framing::kLength;
    return std::nullopt;
  }
  *framing = is_request_ ? Framing::kNone : Framing::kClose;
  return std::nullopt;
}

void MessageDecoder::startBody(Framing framing, uint64_t length) {
  switch (framing) {
    case Framing::kNone:
      state_ = State::kComplete;
      break;
    case Framing::kLength:
      remaining_ = length;
      state_ = length == 0 ? State::kComplete : State::kFixedBody;
      break;
    case Framing::kChunked:
      state_ = State::kChunkSize;
      break;
    case Framing::kClose:
      state_ = State::kCloseDelimited;
      break;
  }
}

std::optional<CodecError> MessageDecoder::onChunkSizeLine(absl::string_view line) {
  uint64_t size;
  if (!parseChunkSizeLine(line, &size)) return fail(400, "invalid chunk size");
  if (size == 0) {
    head_bytes_ = 0;
    field_count_ = 0;
    state_ = State::kTrailers;
    return std::nullopt;
  }
  if (is_request_ && limits_.max_body_bytes != 0 &&
      size > limits_.max_body_bytes - body_bytes_) {
    return fail(413, "request body too large");
  }
  body_bytes_ += size;
  remaining_ = size;
  state_ = State::kChunkData;
  return std::nullopt;
}

void MessageDecoder::finishTrailers() {
  state_ = State::kComplete;
  if (trailers_.empty()) {
    onBody(body_, true);
    body_.clear();
    return;
  }
  if (!body_.empty()) {
    onBody(body_, false);
    body_.clear();
  }
  onTrailers(std::move(trailers_));
  trailers_.clear();
}

void MessageDecoder::finishCloseDelimited() {
  state_ = State::kComplete;
  onBody(body_, true);
  body_.clear();
}

}  // namespace skiff::http1::internal
