#include "net/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace skiff::net {
namespace {

constexpr int kBacklog = 1024;

absl::StatusOr<ListenSocket> bindOne(const SocketAddress& address, bool reuse_port,
                                     bool listen_now = true) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket(): ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (::bind(fd, address.get(), address.length) != 0 ||
      (listen_now && ::listen(fd, kBacklog) != 0)) {
    int error = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.toString(), ": ", strerror(error)));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return ListenSocket(fd, fromSockaddr(reinterpret_cast<sockaddr*>(&bound), length));
}

}  // namespace

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::vector<ListenSocket>> bindReusePortSockets(const SocketAddress& address,
                                                               int count) {
  std::vector<ListenSocket> sockets;
  if (count == 1) {
    auto socket = bindOne(address, false);
    if (!socket.ok()) return socket.status();
    sockets.push_back(std::move(*socket));
    return sockets;
  }
  // SO_REUSEPORT would let us share a port another process holds (and bind(0) may even pick
  // such a port), so a plain socket claims the address first and proves it free.
  SocketAddress target;
  {
    auto probe = bindOne(address, false, false);
    if (!probe.ok()) return probe.status();
    target = probe->boundAddress();
  }
  for (int i = 0; i < count; ++i) {
    auto socket = bindOne(target, true);
    if (!socket.ok()) return socket.status();
    sockets.push_back(std::move(*socket));
  }
  return sockets;
}

TcpListener::TcpListener(event::Dispatcher& dispatcher, AcceptCallback on_accept)
    : dispatcher_(dispatcher), on_accept_(std::move(on_accept)) {}

absl::StatusOr<std::unique_ptr<TcpListener>> TcpListener::create(event::Dispatcher& dispatcher,
                                                                 ListenSocket socket,
                                                                 AcceptCallback on_accept) {
  std::unique_ptr<TcpListener> listener(new TcpListener(dispatcher, std::move(on_accept)));
  listener->handle_ = new uv_tcp_t;
  uv_tcp_init(dispatcher.loop(), listener->handle_);
  listener->handle_->data = listener.get();
  int fd = socket.take();
  int rc = uv_tcp_open(listener->handle_, fd);
  if (rc != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("listen: ", uv_strerror(rc)));
  }
  {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener->handle_), kBacklog,
                   [](uv_stream_t* server, int status) {
                     auto* self = static_cast<TcpListener*>(server->data);
                     if (self == nullptr || status != 0) return;
                     auto connection = Connection::accept(self->dispatcher_, server);
                     if (connection) self->on_accept_(std::move(connection));
                   });
  }
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("listen: ", uv_strerror(rc)));
  }
  return listener;
}

TcpListener::~TcpListener() { close(); }

void TcpListener::close() {
  if (handle_ == nullptr) return;
  handle_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  handle_ = nullptr;
}

}  // namespace skiff::net
