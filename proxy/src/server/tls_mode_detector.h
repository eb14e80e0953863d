#pragma once

// PERMISSIVE mutual TLS: one connection port takes both TLS (from other proxies) and plaintext
// (from clients outside the mesh). The first byte tells them apart: a TLS connection starts
// with a handshake record (0x16), which no plaintext protocol we proxy begins with. Silence for
// the detection timeout means plaintext (a protocol where the server speaks first must not
// hang).

#include <chrono>
#include <functional>
#include <memory>

#include "net/connection.h"
#include "server/first_bytes_detector.h"

namespace skiff::server {

// Pure: whether the first byte of a connection starts a TLS handshake record.
bool looksLikeTls(unsigned char first_byte);

class TlsModeDetector : public FirstBytesDetector {
 public:
  // Called once; the connection's read buffer still holds every byte read.
  using DecidedCallback =
      std::function<void(TlsModeDetector&, bool tls, std::unique_ptr<net::Connection>)>;

  TlsModeDetector(WorkerContext& worker, std::unique_ptr<net::Connection> connection,
                  std::chrono::milliseconds timeout, DecidedCallback decided);

 private:
  void classify(Buffer& data) override;
  void onSilence() override { decide(false); }
  void decide(bool tls);

  DecidedCallback decided_;
};

}  // namespace skiff::server
