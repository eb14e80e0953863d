#include "server/first_bytes_detector.h"

namespace skiff::server {

FirstBytesDetector::FirstBytesDetector(WorkerContext& worker,
                                       std::unique_ptr<net::Connection> connection,
                                       std::chrono::milliseconds timeout)
    : worker_(worker), connection_(std::move(connection)), timeout_(timeout) {}

FirstBytesDetector::~FirstBytesDetector() {
  if (connection_) connection_->setCallbacks(nullptr);
}

void FirstBytesDetector::start() {
  connection_->setCallbacks(this);
  connection_->startReading();
  if (timeout_.count() > 0) {
    timer_ = worker_.dispatcher().createTimer([this] {
      if (!done_) onSilence();
    });
    timer_->enable(timeout_);
  }
  // Bytes read before this detector took the connection (PERMISSIVE TLS detection reads the
  // first ones before protocol detection) would otherwise wait for more that may never come.
  if (connection_->readBuffer().length() > 0) onRead(connection_->readBuffer(), false);
}

void FirstBytesDetector::onRead(Buffer& data, bool end_stream) {
  if (done_) return;
  if (data.length() > 0) classify(data);
  // The client gave up before saying what it speaks.
  if (!done_ && end_stream) close();
}

std::unique_ptr<net::Connection> FirstBytesDetector::release() {
  done_ = true;
  timer_.reset();
  connection_->setCallbacks(nullptr);
  return std::move(connection_);
}

void FirstBytesDetector::close() {
  if (connection_) connection_->close(net::Connection::CloseType::kNoFlush);
}

void FirstBytesDetector::onEvent(net::ConnectionEvent event) {
  if (event == net::ConnectionEvent::kRemoteClose || event == net::ConnectionEvent::kLocalClose) {
    done_ = true;
    timer_.reset();
    worker_.onDownstreamClosed(*this);
  }
}

void FirstBytesDetector::drain() {
  if (!done_) close();
}

}  // namespace skiff::server
