#pragma once

// The address a redirected connection was originally sent to. An iptables REDIRECT rewrites the
// destination to the proxy's port; conntrack remembers the original, which SO_ORIGINAL_DST
// (IPv4) and IP6T_SO_ORIGINAL_DST (IPv6) read back.

#include <optional>

#include "net/address.h"
#include "net/connection.h"

namespace skiff::net {

// nullopt when the connection was not redirected (no conntrack entry, or no NAT on it), when
// the family is neither AF_INET nor AF_INET6, or when the socket is gone.
std::optional<SocketAddress> originalDestination(int fd, int family);

// Sets an accepted connection's destinationAddress() to its original destination when it has
// one (it stays the local address otherwise). An IPv4 connection on a dual-stack socket has an
// IPv4-mapped local address; its NAT entry is IPv4, so it is asked as IPv4.
void recordOriginalDestination(Connection& connection);

// Same IP and port, an IPv4-mapped IPv6 address being equal to the IPv4 address it carries.
bool sameEndpoint(const SocketAddress& a, const SocketAddress& b);

}  // namespace skiff::net
