#include "server/tls_mode_detector.h"

namespace skiff::server {

bool looksLikeTls(unsigned char first_byte) { return first_byte == 0x16; }

TlsModeDetector::TlsModeDetector(WorkerContext& worker, std::unique_ptr<net::Connection> connection,
                                 std::chrono::milliseconds timeout, DecidedCallback decided)
    : FirstBytesDetector(worker, std::move(connection), timeout), decided_(std::move(decided)) {}

void TlsModeDetector::classify(Buffer& data) {
  decide(looksLikeTls(static_cast<unsigned char>(data.frontSlice()[0])));
}

void TlsModeDetector::decide(bool tls) {
  std::unique_ptr<net::Connection> connection = release();
  decided_(*this, tls, std::move(connection));
}

}  // namespace skiff::server
