#include "router/route_table.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "router/route_entry_impl.h"

namespace skiff::router {
namespace {

// "host:port" -> "host", "[::1]:80" -> "[::1]"; anything else is returned whole.
absl::string_view stripPort(absl::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close != absl::string_view::npos && close + 1 < authority.size() &&
        authority[close + 1] == ':') {
      return authority.substr(0, close + 1);
    }
    return authority;
  }
  const size_t colon = authority.rfind(':');
  // More than one colon is a bare IPv6 literal, not a port.
  if (colon == absl::string_view::npos || authority.find(':') != colon) return authority;
  return authority.substr(0, colon);
}

bool hasPort(absl::string_view domain) { return stripPort(domain).size() != domain.size(); }

// A wildcard pattern and the virtual host it selects, with the '*' removed.
struct Wildcard {
  std::string fixed;
  const VirtualHostImpl* virtual_host;
  // Whether the pattern names a port ("*.a.com:8080"); such patterns are tried only against
  // the authority with its port, the others only against the authority without it, so that
  // "api.*" cannot swallow a port and shadow an exact "api.a.com".
  bool has_port;
};

class RouteTableImpl : public RouteTable {
 public:
  const RouteEntry* match(const http::RequestHead& head) const override {
    const VirtualHostImpl* virtual_host = selectVirtualHost(head.authority);
    if (virtual_host == nullptr) return nullptr;
    for (const auto& route : virtual_host->routes) {
      if (route->matches(head)) return route.get();
    }
    return nullptr;
  }

  absl::Status addVirtualHost(const config::v1::VirtualHost& proto, int index);
  void finish();

 private:
  const VirtualHostImpl* selectVirtualHost(absl::string_view authority) const;
  // Exact, suffix wildcards, prefix wildcards; not "*". `with_port`: the pass over the
  // authority as sent, with its port.
  const VirtualHostImpl* findDomain(absl::string_view host, bool with_port) const;

  std::vector<std::unique_ptr<VirtualHostImpl>> virtual_hosts_;
  std::vector<std::pair<std::string, const VirtualHostImpl*>> exact_;  // sorted by name
  std::vector<Wildcard> suffixes_;  // "*.a.com" as ".a.com", longest first
  std::vector<Wildcard> prefixes_;  // "api.*" as "api.", longest first
  const VirtualHostImpl* any_ = nullptr;
  bool domains_have_ports_ = false;
  std::set<std::string> seen_domains_;  // build time only
};

const VirtualHostImpl* RouteTableImpl::selectVirtualHost(absl::string_view authority) const {
  // Lower-case into a stack buffer: authorities are short, and the hot path stays free of
  // allocations. A longer one (beyond any DNS name) falls back to the heap.
  char buffer[256];
  std::string heap;
  char* lower = buffer;
  if (authority.size() > sizeof(buffer)) {
    heap.resize(authority.size());
    lower = heap.data();
  }
  for (size_t i = 0; i < authority.size(); ++i) lower[i] = absl::ascii_tolower(authority[i]);
  const absl::string_view host(lower, authority.size());

  const absl::string_view without_port = stripPort(host);
  if (domains_have_ports_ && without_port.size() != host.size()) {
    if (const VirtualHostImpl* found = findDomain(host, true)) return found;
  }
  if (const VirtualHostImpl* found = findDomain(without_port, false)) return found;
  return any_;
}

const VirtualHostImpl* RouteTableImpl::findDomain(absl::string_view host, bool with_port) const {
  auto exact = std::lower_bound(exact_.begin(), exact_.end(), host,
                                [](const auto& entry, absl::string_view name) {
                                  return absl::string_view(entry.first) < name;
                                });
  if (exact != exact_.end() && exact->first == host) return exact->second;
  // A wildcard must cover at least one character: "*.a.com" does not match "a.com".
  for (const auto& suffix : suffixes_) {
    if (suffix.has_port == with_port && host.size() > suffix.fixed.size() &&
        absl::EndsWith(host, suffix.fixed)) {
      return suffix.virtual_host;
    }
  }
  for (const auto& prefix : prefixes_) {
    if (prefix.has_port == with_port && host.size() > prefix.fixed.size() &&
        absl::StartsWith(host, prefix.fixed)) {
      return prefix.virtual_host;
    }
  }
  return nullptr;
}

absl::Status RouteTableImpl::addVirtualHost(const config::v1::VirtualHost& proto, int index) {
  const std::string field = absl::StrCat("virtual_hosts[", index, "]");
  auto virtual_host = std::make_unique<VirtualHostImpl>();
  virtual_host->name = proto.name();

  auto request =
      HeaderMutations::create(proto.request_headers_to_add(), proto.request_headers_to_remove(),
                              field, "request_headers_to_add", "request_headers_to_remove");
  if (!request.ok()) return request.status();
  virtual_host->request_mutations = std::move(*request);
  auto response =
      HeaderMutations::create(proto.response_headers_to_add(), proto.response_headers_to_remove(),
                              field, "response_headers_to_add", "response_headers_to_remove");
  if (!response.ok()) return response.status();
  virtual_host->response_mutations = std::move(*response);

  for (int i = 0; i < proto.routes_size(); ++i) {
    auto route = RouteEntryImpl::create(proto.routes(i), *virtual_host,
                                        absl::StrCat(field, ".routes[", i, "]"));
    if (!route.ok()) return route.status();
    virtual_host->routes.push_back(std::move(*route));
  }

  if (proto.domains_size() == 0) {
    return absl::InvalidArgumentError(field + ".domains: empty");
  }
  for (int i = 0; i < proto.domains_size(); ++i) {
    const std::string domain_field = absl::StrCat(field, ".domains[", i, "]");
    const std::string domain = absl::AsciiStrToLower(proto.domains(i));
    if (domain.empty()) return absl::InvalidArgumentError(domain_field + ": empty");
    if (!seen_domains_.insert(domain).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(domain_field, ": duplicate domain '", domain, "'"));
    }
    const size_t star = domain.find('*');
    if (domain == "*") {
      any_ = virtual_host.get();
    } else if (star == std::string::npos) {
      exact_.emplace_back(domain, virtual_host.get());
    } else if (domain.rfind('*') != star || (star != 0 && star != domain.size() - 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          domain_field, ": '", domain, "': a wildcard must be a single leading or trailing '*'"));
    } else if (star == 0) {
      suffixes_.push_back(Wildcard{domain.substr(1), virtual_host.get(), hasPort(domain)});
    } else {
      prefixes_.push_back(
          Wildcard{domain.substr(0, domain.size() - 1), virtual_host.get(), hasPort(domain)});
    }
    if (hasPort(domain)) domains_have_ports_ = true;
  }
  virtual_hosts_.push_back(std::move(virtual_host));
  return absl::OkStatus();
}

void RouteTableImpl::finish() {
  std::sort(exact_.begin(), exact_.end());
  auto longest_first = [](const Wildcard& a, const Wildcard& b) {
    return a.fixed.size() > b.fixed.size();
  };
  // Stable: among equally long patterns, configuration order decides.
  std::stable_sort(suffixes_.begin(), suffixes_.end(), longest_first);
  std::stable_sort(prefixes_.begin(), prefixes_.end(), longest_first);
  seen_domains_.clear();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::create(
    const config::v1::RouteConfiguration& config) {
  auto table = std::make_shared<RouteTableImpl>();
  for (int i = 0; i < config.virtual_hosts_size(); ++i) {
    absl::Status status = table->addVirtualHost(config.virtual_hosts(i), i);
    if (!status.ok()) return status;
  }
  table->finish();
  return std::shared_ptr<const RouteTable>(std::move(table));
}

}  // namespace skiff::router
