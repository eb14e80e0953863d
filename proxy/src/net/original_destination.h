#pragma once

// The address a redirected connection was originally sent to. An iptables REDIRECT rewrites the
// destination to the proxy's port; conntrack remembers the original, which SO_ORIGINAL_DST
// (IPv4) and IP6T_SO_ORIGINAL_DST (IPv6) read back.

#include <optional>

#include "net/address.h"

namespace skiff::net {

// nullopt when the connection was not redirected (no conntrack entry, or no NAT on it), when
// the family is neither AF_INET nor AF_INET6, or when the socket is gone.
std::optional<SocketAddress> originalDestination(int fd, int family);

}  // namespace skiff::net
