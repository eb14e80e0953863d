#include "upstream/host.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace skiff::upstream {

absl::StatusOr<HostSharedPtr> makeHost(const std::string& ip, uint16_t port, uint32_t weight,
                                       const std::string& hostname) {
  auto host = std::make_shared<Host>();
  // Accept "[::1]" as well as "::1": operators copy bracketed literals out of URLs.
  std::string literal = ip;
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);
  }

  char text[INET6_ADDRSTRLEN] = {};
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET, literal.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    std::memcpy(&host->sockaddr, &v4, sizeof(v4));
    host->sockaddr_len = sizeof(v4);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
    host->address = absl::StrCat(text, ":", port);
  } else if (inet_pton(AF_INET6, literal.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    std::memcpy(&host->sockaddr, &v6, sizeof(v6));
    host->sockaddr_len = sizeof(v6);
    // The canonical form, so "0::1" and "::1" name (and ring-hash to) the same host.
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
    host->address = absl::StrCat("[", text, "]:", port);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", ip, "'"));
  }
  host->weight = weight == 0 ? 1 : weight;
  host->hostname = hostname;
  return HostSharedPtr(std::move(host));
}

std::shared_ptr<const HostVector> hostsToBalance(
    const std::shared_ptr<const HostVector>& all,
    const std::function<bool(const Host&)>& usable) {
  auto healthy = std::make_shared<HostVector>();
  for (const HostSharedPtr& host : *all) {
    if (usable(*host)) healthy->push_back(host);
  }
  if (healthy->size() == all->size() || healthy->size() * 2 < all->size()) return all;
  return healthy;
}

}  // namespace skiff::upstream
