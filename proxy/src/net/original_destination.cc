#include "net/original_destination.h"

// glibc's <netinet/in.h> must come before the kernel headers: it tells <linux/in.h> (through
// libc-compat.h) not to define the same structs again.
#include <netinet/in.h>
#include <sys/socket.h>
// clang-format off
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
// clang-format on

#include "absl/strings/match.h"

namespace skiff::net {

std::optional<SocketAddress> originalDestination(int fd, int family) {
  if (fd < 0) return std::nullopt;
  SocketAddress out;
  socklen_t length = sizeof(out.storage);
  int rc = -1;
  if (family == AF_INET) {
    rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &out.storage, &length);
  } else if (family == AF_INET6) {
    rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &out.storage, &length);
  }
  // Without a NAT entry the kernel answers ENOENT (or ENOPROTOOPT when conntrack is absent).
  if (rc != 0 || out.family() != family) return std::nullopt;
  // The kernel fills a sockaddr_in / sockaddr_in6 but leaves the length as it was given.
  out.length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  return out;
}

void recordOriginalDestination(Connection& connection) {
  const SocketAddress& local = connection.localAddress();
  int family = local.family();
  if (family == AF_INET6 &&
      IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6*>(&local.storage)->sin6_addr)) {
    family = AF_INET;
  }
  if (auto original = originalDestination(connection.fd(), family)) {
    connection.setDestinationAddress(*original);
  }
}

bool sameEndpoint(const SocketAddress& a, const SocketAddress& b) {
  if (a.length == 0 || b.length == 0 || a.port() != b.port()) return false;
  auto unmapped = [](const SocketAddress& address) {
    std::string ip = address.ip();
    constexpr absl::string_view kMapped = "::ffff:";
    if (address.family() == AF_INET6 && absl::StartsWith(ip, kMapped) &&
        ip.find('.') != std::string::npos) {
      ip.erase(0, kMapped.size());
    }
    return ip;
  };
  return unmapped(a) == unmapped(b);
}

}  // namespace skiff::net
