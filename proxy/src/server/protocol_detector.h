#pragma once

// Protocol detection for HTTP listeners: the first bytes of a connection decide between HTTP/2
// (the client preface), HTTP/1.x (a request line) and, when the listener has a TCP fallback,
// opaque TCP (anything else, or silence for the detection timeout: a protocol where the server
// speaks first must not hang).

#include <chrono>
#include <functional>
#include <memory>

#include "absl/strings/string_view.h"
#include "net/connection.h"
#include "server/first_bytes_detector.h"

namespace skiff::server {

enum class DetectedProtocol { kNeedMoreBytes, kHttp1, kHttp2, kTcp };

// Pure: what `first_bytes` say. Without a TCP fallback anything that is not HTTP/2 is HTTP/1
// (whose codec then rejects garbage with 400).
DetectedProtocol classifyFirstBytes(absl::string_view first_bytes, bool tcp_fallback);

class ProtocolDetector : public FirstBytesDetector {
 public:
  // Called once with the decision and the connection (its read buffer still holds every byte).
  using DecidedCallback =
      std::function<void(ProtocolDetector&, DetectedProtocol, std::unique_ptr<net::Connection>)>;

  // `timeout`: with a TCP fallback, silence this long means TCP; without one, a connection
  // silent this long is closed (pass the HTTP idle timeout; 0: never).
  ProtocolDetector(WorkerContext& worker, std::unique_ptr<net::Connection> connection,
                   bool tcp_fallback, std::chrono::milliseconds timeout, DecidedCallback decided);

 private:
  void classify(Buffer& data) override;
  void onSilence() override;
  void decide(DetectedProtocol protocol);

  bool tcp_fallback_;
  DecidedCallback decided_;
};

}  // namespace skiff::server
