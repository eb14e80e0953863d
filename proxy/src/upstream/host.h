#pragma once

// One upstream endpoint as the data path sees it. Immutable but for its live counters.

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skiff::upstream {

struct Host {
  // "ip:port" ("[::1]:80" for IPv6), for logs, stats and /clusters.
  std::string address;
  sockaddr_storage sockaddr{};
  socklen_t sockaddr_len = 0;
  uint32_t weight = 1;
  // The DNS name this address came from, empty for static IPs.
  std::string hostname;
  // Requests in flight to this host across all workers (relaxed; read by LEAST_REQUEST).
  mutable std::atomic<uint32_t> active_requests{0};
  // Failed tries in a row, for outlier detection (OutlierDetector: workers count, relaxed).
  mutable std::atomic<uint32_t> consecutive_5xx{0};
  mutable std::atomic<uint32_t> consecutive_gateway_failures{0};
};

using HostSharedPtr = std::shared_ptr<const Host>;
using HostVector = std::vector<HostSharedPtr>;

// The hosts a balancer picks from: those `usable` accepts, or all of them when fewer than half
// are (the panic threshold, as Envoy's default: spreading load over every host beats piling
// it onto the few left). Returns `all` itself when every host is usable.
std::shared_ptr<const HostVector> hostsToBalance(
    const std::shared_ptr<const HostVector>& all,
    const std::function<bool(const Host&)>& usable);

// Builds a Host from an IP literal and port; an error if `ip` is not an IPv4/IPv6 literal.
absl::StatusOr<HostSharedPtr> makeHost(const std::string& ip, uint16_t port, uint32_t weight,
                                       const std::string& hostname = "");

}  // namespace skiff::upstream
