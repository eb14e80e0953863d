#pragma once

// PERMISSIVE mutual TLS: one connection port takes both TLS (from other proxies) and plaintext
// (from clients outside the mesh). The first byte tells them apart: a TLS connection starts
// with a handshake record (0x16), which no plaintext protocol we proxy begins with. Silence for
// the detection timeout means plaintext (a protocol where the server speaks first must not
// hang).

#include <chrono>
#include <functional>
#include <memory>

#include "event/dispatcher.h"
#include "net/connection.h"
#include "server/worker_context.h"

namespace skiff::server {

// Pure: whether the first byte of a connection starts a TLS handshake record.
bool looksLikeTls(unsigned char first_byte);

class TlsModeDetector : public DownstreamConnection, public net::ConnectionCallbacks {
 public:
  // Called once; the connection's read buffer still holds every byte read.
  using DecidedCallback =
      std::function<void(TlsModeDetector&, bool tls, std::unique_ptr<net::Connection>)>;

  TlsModeDetector(WorkerContext& worker, std::unique_ptr<net::Connection> connection,
                  std::chrono::milliseconds timeout, DecidedCallback decided);
  ~TlsModeDetector() override;
  void start();

  void drain() override;
  void onRead(Buffer& data, bool end_stream) override;
  void onEvent(net::ConnectionEvent event) override;

 private:
  void decide(bool tls);

  WorkerContext& worker_;
  std::unique_ptr<net::Connection> connection_;
  std::chrono::milliseconds timeout_;
  DecidedCallback decided_;
  std::unique_ptr<event::Timer> timer_;
  bool done_ = false;
};

}  // namespace skiff::server
