#pragma once

// Destination chains: on a listener that reads original destinations (use_original_dst), a
// connection sent to one of a chain's addresses and ports is proxied as TCP by that chain
// instead of taking the listener's own handler. This is how intercepted traffic to a TCP
// service reaches the service's cluster while everything else on the same port is HTTP.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/cidr.h"
#include "filters/network/tcp_proxy.h"
#include "net/address.h"

namespace skiff::server {

struct DestinationChain {
  std::string name;
  std::vector<CidrRange> ranges;  // empty: any address
  uint16_t port = 0;              // 0: any port
  std::shared_ptr<const filters::TcpProxyConfig> tcp;

  bool matches(const net::SocketAddress& destination) const;
};

// The first chain that matches, in configuration order; nullptr when none does.
const DestinationChain* selectDestinationChain(const std::vector<DestinationChain>& chains,
                                               const net::SocketAddress& destination);

}  // namespace skiff::server
