#include "upstream/original_dst_host.h"

#include <cstring>

#include "common/logging.h"
#include "net/original_destination.h"

namespace skiff::upstream {

HostSharedPtr originalDestinationHost(const ClusterInfo& cluster,
                                      const net::Connection& downstream) {
  const net::SocketAddress& destination = downstream.destinationAddress();
  if (destination.length == 0 || net::sameEndpoint(destination, downstream.localAddress())) {
    cluster.stats->original_dst_refused.inc();
    SKIFF_LOG(kDebug, "ORIGINAL_DST cluster %s: connection from %s was not redirected, refused",
              cluster.name, downstream.remoteAddress().toString());
    return nullptr;
  }
  auto host = std::make_shared<Host>();
  host->address = destination.toString();
  memcpy(&host->sockaddr, &destination.storage,
         std::min<size_t>(destination.length, sizeof(host->sockaddr)));
  host->sockaddr_len = destination.length;
  return host;
}

}  // namespace skiff::upstream
