#include "server/tls_mode_detector.h"

namespace skiff::server {

bool looksLikeTls(unsigned char first_byte) { return first_byte == 0x16; }

TlsModeDetector::TlsModeDetector(WorkerContext& worker,
                                 std::unique_ptr<net::Connection> connection,
                                 std::chrono::milliseconds timeout, DecidedCallback decided)
    : worker_(worker),
      connection_(std::move(connection)),
      timeout_(timeout),
      decided_(std::move(decided)) {}

TlsModeDetector::~TlsModeDetector() {
  if (connection_) connection_->setCallbacks(nullptr);
}

void TlsModeDetector::start() {
  connection_->setCallbacks(this);
  connection_->startReading();
  if (timeout_.count() > 0) {
    timer_ = worker_.dispatcher().createTimer([this] { decide(false); });
    timer_->enable(timeout_);
  }
}

void TlsModeDetector::onRead(Buffer& data, bool end_stream) {
  if (done_) return;
  if (data.length() > 0) {
    decide(looksLikeTls(static_cast<unsigned char>(data.frontSlice()[0])));
    return;
  }
  // The client left without a byte.
  if (end_stream) connection_->close(net::Connection::CloseType::kNoFlush);
}

void TlsModeDetector::decide(bool tls) {
  if (done_) return;
  done_ = true;
  timer_.reset();
  connection_->setCallbacks(nullptr);
  decided_(*this, tls, std::move(connection_));
}

void TlsModeDetector::onEvent(net::ConnectionEvent event) {
  if (event == net::ConnectionEvent::kRemoteClose || event == net::ConnectionEvent::kLocalClose) {
    done_ = true;
    timer_.reset();
    worker_.onDownstreamClosed(*this);
  }
}

void TlsModeDetector::drain() {
  if (!done_) connection_->close(net::Connection::CloseType::kNoFlush);
}

}  // namespace skiff::server
