#pragma once

// Socket address helpers: parsing IP literals and printing addresses.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace skiff::net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  // "1.2.3.4:80" or "[::1]:80".
  std::string toString() const;
  // The IP alone, without port or brackets.
  std::string ip() const;
};

absl::StatusOr<SocketAddress> parseIpAndPort(const std::string& ip, uint16_t port);
SocketAddress fromSockaddr(const sockaddr* addr, socklen_t length);

}  // namespace skiff::net
