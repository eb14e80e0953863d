// Drives the pure classifiers behind FirstBytesDetector: classifyFirstBytes (HTTP/1, HTTP/2 or
// TCP; ProtocolDetector) and looksLikeTls (PERMISSIVE mTLS; TlsModeDetector), with the bytes of
// a connection arriving in input-chosen pieces, the way the detectors see them. Checks: a
// decision is stable (more bytes never change it) and reached within the bytes the detector
// peeks at (so a connection cannot wait forever while sending); HTTP/2 only for the full client
// preface; TCP only with a TCP fallback and HTTP/1 with one only after a method token and a
// space; and what PERMISSIVE detection calls TLS is never HTTP/2, nor (with a TCP fallback)
// HTTP/1: conversely no HTTP request or preface is ever taken for TLS.
//
// Input layout: byte 0 is the piece size, the rest is the connection's first bytes (see
// tests/fuzz/corpus/detect).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz_check.h"
#include "server/protocol_detector.h"
#include "server/tls_mode_detector.h"

namespace skiff::server {
namespace {

constexpr absl::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// ProtocolDetector::classify looks at no more than this many bytes.
constexpr size_t kDetectorPeek = 64;

// What ProtocolDetector decides as pieces arrive: the first decision, and after how many bytes.
DetectedProtocol detect(absl::string_view bytes, size_t piece, bool tcp_fallback,
                        size_t* decided_at) {
  for (size_t have = std::min(piece, bytes.size()); have > 0;
       have = std::min(have + piece, bytes.size())) {
    absl::string_view seen = bytes.substr(0, std::min(have, kDetectorPeek));
    DetectedProtocol protocol = classifyFirstBytes(seen, tcp_fallback);
    if (protocol != DetectedProtocol::kNeedMoreBytes) {
      *decided_at = have;
      return protocol;
    }
    if (have == bytes.size()) break;
  }
  *decided_at = bytes.size();
  return DetectedProtocol::kNeedMoreBytes;
}

void checkClassification(absl::string_view bytes, size_t piece, bool tcp_fallback) {
  size_t decided_at = 0;
  const DetectedProtocol protocol = detect(bytes, piece, tcp_fallback, &decided_at);

  // Stable: every longer prefix says the same (one byte at a time would be slow; spot-check).
  if (protocol != DetectedProtocol::kNeedMoreBytes) {
    for (size_t n : {decided_at, decided_at + 1, bytes.size()}) {
      n = std::min(n, bytes.size());
      FUZZ_CHECK(classifyFirstBytes(bytes.substr(0, n), tcp_fallback) == protocol);
    }
  }
  // Bounded: the preface is the longest thing worth waiting for, within the detector's peek.
  if (bytes.size() >= kPreface.size()) FUZZ_CHECK(protocol != DetectedProtocol::kNeedMoreBytes);
  FUZZ_CHECK(kPreface.size() <= kDetectorPeek);

  const bool starts_with_preface = absl::StartsWith(bytes, kPreface);
  FUZZ_CHECK((protocol == DetectedProtocol::kHttp2) == starts_with_preface);
  if (!tcp_fallback) FUZZ_CHECK(protocol != DetectedProtocol::kTcp);
  if (tcp_fallback && protocol == DetectedProtocol::kHttp1) {
    const size_t space = bytes.find(' ');
    FUZZ_CHECK(space != absl::string_view::npos && space > 0);
    for (char c : bytes.substr(0, space)) {
      FUZZ_CHECK(absl::ascii_isupper(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    }
  }
  // PERMISSIVE: TLS detection sees the first byte before protocol detection does.
  if (!bytes.empty() && looksLikeTls(static_cast<unsigned char>(bytes[0]))) {
    if (tcp_fallback) FUZZ_CHECK(protocol == DetectedProtocol::kTcp);
    FUZZ_CHECK(protocol != DetectedProtocol::kHttp2);
  }
}

}  // namespace
}  // namespace skiff::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff::server;
  if (size < 1) return 0;
  const size_t piece = 1 + data[0] % 32;
  const absl::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  checkClassification(bytes, piece, /*tcp_fallback=*/false);
  checkClassification(bytes, piece, /*tcp_fallback=*/true);
  return 0;
}
