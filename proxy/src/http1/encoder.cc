// Serialises heads, bodies and trailers as HTTP/1.1. Each head is built in one string and added
// to the output in one piece; body bytes are moved, never copied.

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "http1/codec.h"
#include "http1/parse_util.h"

namespace skiff::http1 {
namespace {

size_t headerBytes(const http::HeaderMap& headers) {
  return headers.byteSize() + headers.size() * 4;  // ": " and CRLF per line
}

void appendHeaders(const http::HeaderMap& headers, BodyFraming framing, bool skip_host,
                   std::string& out) {
  for (const auto& [name, value] : headers.entries()) {
    // The encoder owns the framing headers: a transfer-encoding left from the decoded message
    // would contradict the framing chosen for this hop, and Content-Length must not travel
    // with chunked (RFC 9112 6.2).
    if (name == "transfer-encoding") continue;
    if (framing == BodyFraming::kChunked && name == "content-length") continue;
    if (skip_host && name == "host") continue;
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  if (framing == BodyFraming::kChunked) out.append("transfer-encoding: chunked\r\n");
  out.append("\r\n");
}

}  // namespace

void encodeRequestHead(const http::RequestHead& head, BodyFraming framing, Buffer& out) {
  std::string text;
  text.reserve(head.method.size() + head.path.size() + head.authority.size() +
               headerBytes(head.headers) + 64);
  // Upstream requests always go out as HTTP/1.1; the proxy speaks for the client.
  absl::StrAppend(&text, head.method, " ", head.path, " HTTP/1.1\r\n");
  bool has_authority = !head.authority.empty();
  if (has_authority) absl::StrAppend(&text, "host: ", head.authority, "\r\n");
  appendHeaders(head.headers, framing, has_authority, text);
  out.add(text);
}

void encodeResponseHead(const http::ResponseHead& head, BodyFraming framing, Buffer& out) {
  std::string text;
  text.reserve(head.reason.size() + headerBytes(head.headers) + 64);
  absl::string_view version =
      head.protocol == http::Protocol::kHttp10 ? "HTTP/1.0" : "HTTP/1.1";
  absl::string_view reason =
      head.reason.empty() ? http::defaultReasonPhrase(head.status) : head.reason;
  absl::StrAppend(&text, version, " ", head.status, " ", reason, "\r\n");
  appendHeaders(head.headers, framing, /*skip_host=*/false, text);
  out.add(text);
}

void encodeData(BodyFraming framing, Buffer& data, bool end_stream, Buffer& out) {
  if (framing != BodyFraming::kChunked) {
    out.move(data);
    return;
  }
  if (!data.empty()) {
    char size_line[24];
    int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", data.length());
    out.add(size_line, static_cast<size_t>(n));
    out.move(data);
    out.add("\r\n");
  }
  if (end_stream) out.add("0\r\n\r\n");
}

void encodeTrailers(BodyFraming framing, const http::HeaderMap& trailers, Buffer& out) {
  if (framing != BodyFraming::kChunked) return;
  std::string text;
  text.reserve(headerBytes(trailers) + 8);
  text.append("0\r\n");
  for (const auto& [name, value] : trailers.entries()) {
    absl::StrAppend(&text, name, ": ", value, "\r\n");
  }
  text.append("\r\n");
  out.add(text);
}

bool wantsKeepAlive(http::Protocol protocol, const http::HeaderMap& headers) {
  if (internal::hasConnectionToken(headers, "close")) return false;
  if (protocol == http::Protocol::kHttp10) {
    return internal::hasConnectionToken(headers, "keep-alive");
  }
  return true;
}

}  // namespace skiff::http1
