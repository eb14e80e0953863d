#include "server/protocol_detector.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace skiff::server {
namespace {

constexpr absl::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Longest method we wait for before calling the bytes "not HTTP" (HTTP/1 methods are short).
constexpr size_t kMaxMethodLength = 16;

}  // namespace

DetectedProtocol classifyFirstBytes(absl::string_view first_bytes, bool tcp_fallback) {
  if (first_bytes.empty()) return DetectedProtocol::kNeedMoreBytes;
  size_t n = std::min(first_bytes.size(), kHttp2Preface.size());
  if (first_bytes.substr(0, n) == kHttp2Preface.substr(0, n)) {
    return n == kHttp2Preface.size() ? DetectedProtocol::kHttp2 : DetectedProtocol::kNeedMoreBytes;
  }
  if (!tcp_fallback) return DetectedProtocol::kHttp1;
  // An HTTP/1.x request starts with a method token (upper-case letters in practice) and a space.
  for (size_t i = 0; i < first_bytes.size() && i <= kMaxMethodLength; ++i) {
    char c = first_bytes[i];
    if (c == ' ') return i > 0 ? DetectedProtocol::kHttp1 : DetectedProtocol::kTcp;
    if (!absl::ascii_isupper(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return DetectedProtocol::kTcp;
    }
  }
  return first_bytes.size() > kMaxMethodLength ? DetectedProtocol::kTcp
                                               : DetectedProtocol::kNeedMoreBytes;
}

ProtocolDetector::ProtocolDetector(WorkerContext& worker,
                                   std::unique_ptr<net::Connection> connection, bool tcp_fallback,
                                   std::chrono::milliseconds timeout, DecidedCallback decided)
    : FirstBytesDetector(worker, std::move(connection), timeout),
      tcp_fallback_(tcp_fallback),
      decided_(std::move(decided)) {}

void ProtocolDetector::classify(Buffer& data) {
  size_t peek = std::min(data.length(), static_cast<size_t>(64));
  DetectedProtocol protocol = classifyFirstBytes(data.linearize(peek), tcp_fallback_);
  if (protocol != DetectedProtocol::kNeedMoreBytes) decide(protocol);
}

void ProtocolDetector::onSilence() {
  if (tcp_fallback_) {
    decide(DetectedProtocol::kTcp);
  } else {
    close();
  }
}

void ProtocolDetector::decide(DetectedProtocol protocol) {
  std::unique_ptr<net::Connection> connection = release();
  decided_(*this, protocol, std::move(connection));
}

}  // namespace skiff::server
