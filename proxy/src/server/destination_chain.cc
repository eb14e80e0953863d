#include "server/destination_chain.h"

namespace skiff::server {

bool DestinationChain::matches(const net::SocketAddress& destination) const {
  if (destination.length == 0) return false;
  if (port != 0 && destination.port() != port) return false;
  if (ranges.empty()) return true;
  for (const CidrRange& range : ranges) {
    if (range.contains(destination.get())) return true;
  }
  return false;
}

const DestinationChain* selectDestinationChain(const std::vector<DestinationChain>& chains,
                                               const net::SocketAddress& destination) {
  for (const DestinationChain& chain : chains) {
    if (chain.matches(destination)) return &chain;
  }
  return nullptr;
}

}  // namespace skiff::server
