#pragma once

// Holds a new downstream connection until its first bytes say what it speaks, then hands it on.
// Protocol detection (HTTP/1, HTTP/2 or TCP) and PERMISSIVE mutual TLS (TLS or plaintext) both
// work this way; subclasses only classify. Every byte read stays in the connection's read
// buffer for whoever takes the connection next.

#include <chrono>
#include <memory>

#include "common/buffer.h"
#include "event/dispatcher.h"
#include "net/connection.h"
#include "server/worker_context.h"

namespace skiff::server {

class FirstBytesDetector : public DownstreamConnection, public net::ConnectionCallbacks {
 public:
  ~FirstBytesDetector() override;
  void start();

  void drain() override;
  bool deciding() const override { return !done_; }
  void onRead(Buffer& data, bool end_stream) override;
  void onEvent(net::ConnectionEvent event) override;

 protected:
  // `timeout`: how long silence may last before onSilence() (0: forever).
  FirstBytesDetector(WorkerContext& worker, std::unique_ptr<net::Connection> connection,
                     std::chrono::milliseconds timeout);

  // Looks at the bytes read so far (at least one) and, once they decide, hands the connection
  // on with release(). Not calling release() waits for more bytes.
  virtual void classify(Buffer& data) = 0;
  // `timeout` passed without a decision.
  virtual void onSilence() = 0;

  // Ends detection: the connection is the caller's from here on.
  std::unique_ptr<net::Connection> release();
  void close();
  bool decided() const { return done_; }

 private:
  WorkerContext& worker_;
  std::unique_ptr<net::Connection> connection_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<event::Timer> timer_;
  bool done_ = false;
};

}  // namespace skiff::server
