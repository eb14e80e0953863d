#pragma once

// Listening sockets. The main thread binds one socket per worker with SO_REUSEPORT (so bind
// errors surface before any worker starts and the kernel spreads connections across workers);
// each worker then accepts on its own socket.

#include <uv.h>

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "event/dispatcher.h"
#include "net/address.h"
#include "net/connection.h"

namespace skiff::net {

// A bound, listening socket not yet attached to any loop. Closes the fd unless taken.
class ListenSocket {
 public:
  ListenSocket(int fd, SocketAddress bound) : fd_(fd), bound_(bound) {}
  ~ListenSocket();
  ListenSocket(ListenSocket&& other) noexcept : fd_(other.fd_), bound_(other.bound_) {
    other.fd_ = -1;
  }
  ListenSocket(const ListenSocket&) = delete;
  int take() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  const SocketAddress& boundAddress() const { return bound_; }

 private:
  int fd_;
  SocketAddress bound_;
};

// `count` sockets on the same address and port; port 0 picks a free port shared by all.
absl::StatusOr<std::vector<ListenSocket>> bindReusePortSockets(const SocketAddress& address,
                                                               int count);

// A listening socket on one worker's loop.
class TcpListener {
 public:
  using AcceptCallback = std::function<void(std::unique_ptr<Connection>)>;
  static absl::StatusOr<std::unique_ptr<TcpListener>> create(event::Dispatcher& dispatcher,
                                                             ListenSocket socket,
                                                             AcceptCallback on_accept);
  ~TcpListener();
  // Stops accepting and closes the socket.
  void close();

 private:
  TcpListener(event::Dispatcher& dispatcher, AcceptCallback on_accept);
  event::Dispatcher& dispatcher_;
  AcceptCallback on_accept_;
  uv_tcp_t* handle_ = nullptr;
};

}  // namespace skiff::net
