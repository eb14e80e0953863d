// Semantic checks on a Bootstrap that the schema alone cannot express. Every problem found is
// reported (in document order, up to kMaxErrors), so one --validate run shows them all.

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/cidr.h"
#include "config/authorization_checks.h"
#include "config/bootstrap_loader.h"
#include "config/defaults.h"
#include "config/field_checks.h"
#include "config/tls_checks.h"
#include "re2/re2.h"
#include "router/route_rate_limit.h"
#include "upstream/outlier_ejections.h"
#include "router/route_retry_policy.h"
#include "tracing/tracing_config.h"

namespace skiff::config {
namespace {

constexpr size_t kMaxErrors = 20;
constexpr int64_t kMaxDurationSeconds = 315576000000;

std::string fieldPath(const std::string& parent, absl::string_view name) {
  return parent.empty() ? std::string(name) : absl::StrCat(parent, ".", name);
}

std::string indexPath(const std::string& parent, int index) {
  return absl::StrCat(parent, "[", index, "]");
}

std::string hostPort(const std::string& address, uint32_t port) {
  if (address.find(':') != std::string::npos) return absl::StrCat("[", address, "]:", port);
  return absl::StrCat(address, ":", port);
}

// "host:port" with a port 1..65535; the host is a DNS name, an IPv4 literal or "[IPv6]".
std::string checkHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (text.empty()) return "required (\"host:port\", e.g. \"127.0.0.1:15010\")";
  if (colon == std::string::npos || colon == 0) {
    return absl::StrFormat("\"%s\" is not \"host:port\"", absl::Utf8SafeCHexEscape(text));
  }
  std::string host = text.substr(0, colon);
  const std::string port_text = text.substr(colon + 1);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535 ||
      !absl::ascii_isdigit(static_cast<unsigned char>(port_text[0]))) {
    return absl::StrFormat("\"%s\": the port must be 1 to 65535", absl::Utf8SafeCHexEscape(text));
  }
  if (host.front() == '[' && host.back() == ']' && host.size() > 2) {
    std::string inner = host.substr(1, host.size() - 2);
    if (inner.find(':') != std::string::npos && internal::parseIpLiteral(inner)) return "";
    return absl::StrFormat("\"%s\": invalid IPv6 address in brackets",
                           absl::Utf8SafeCHexEscape(text));
  }
  if (std::string reason = internal::checkHostName(host); !reason.empty()) {
    return absl::StrFormat("\"%s\": %s", absl::Utf8SafeCHexEscape(text), reason);
  }
  return "";
}

// One validator for the static bootstrap and for resources that arrive on the discovery
// stream. The difference: a dynamic resource's cluster references are not checked (the
// referenced cluster may come later or never: a request then gets 503 NC, as in Envoy).
class Validator {
 public:
  // Static: references must name a cluster of `known_clusters`.
  explicit Validator(std::set<std::string> known_clusters)
      : cluster_names_(std::move(known_clusters)), check_cluster_references_(true) {}
  // Dynamic: references are not checked.
  Validator() : check_cluster_references_(false) {}

  absl::Status run(const v1::Bootstrap& bootstrap) {
    admin(bootstrap);
    if (bootstrap.has_drain_timeout()) {
      duration(bootstrap.drain_timeout(), "drain_timeout", /*must_be_positive=*/false);
    }
    dynamic_resources_ = bootstrap.has_dynamic_resources();
    if (bootstrap.has_dynamic_resources()) dynamicResources(bootstrap);
    check_identity_ = true;
    has_identity_ = bootstrap.has_identity();
    if (has_identity_) addAll(identityErrors(bootstrap.identity(), "identity"));
    const std::string listeners = "static_resources.listeners";
    for (int i = 0; i < bootstrap.static_resources().listeners_size(); ++i) {
      listener(bootstrap.static_resources().listeners(i), indexPath(listeners, i));
    }
    const std::string clusters = "static_resources.clusters";
    for (int i = 0; i < bootstrap.static_resources().clusters_size(); ++i) {
      cluster(bootstrap.static_resources().clusters(i), indexPath(clusters, i));
    }
    return result("");
  }

  // One resource from the discovery stream; paths start inside the resource.
  absl::Status runListener(const v1::Listener& resource) {
    listener(resource, "");
    return result(absl::StrFormat("listener \"%s\": ", absl::Utf8SafeCHexEscape(resource.name())));
  }
  absl::Status runRouteConfiguration(const v1::RouteConfiguration& resource) {
    if (resource.name().empty()) add("name", "required (the name listeners use in http.rds)");
    routeConfig(resource, "");
    return result(absl::StrFormat("route configuration \"%s\": ",
                                  absl::Utf8SafeCHexEscape(resource.name())));
  }
  absl::Status runCluster(const v1::Cluster& resource) {
    dynamic_resources_ = true;
    cluster(resource, "");
    return result(absl::StrFormat("cluster \"%s\": ", absl::Utf8SafeCHexEscape(resource.name())));
  }
  absl::Status runClusterLoadAssignment(const v1::ClusterLoadAssignment& resource) {
    if (resource.cluster_name().empty()) {
      add("cluster_name", "required (the name of the EDS cluster these endpoints belong to)");
    }
    endpoints(resource.endpoints(), v1::Cluster::STATIC, "endpoints", /*required=*/false);
    return result(absl::StrFormat("cluster load assignment \"%s\": ",
                                  absl::Utf8SafeCHexEscape(resource.cluster_name())));
  }

 private:
  absl::Status result(const std::string& prefix) {
    if (errors_.empty()) return absl::OkStatus();
    std::string message = absl::StrCat(prefix, absl::StrJoin(errors_, "; "));
    if (dropped_ > 0) absl::StrAppend(&message, "; and ", dropped_, " more errors");
    return absl::InvalidArgumentError(message);
  }

  void add(const std::string& path, absl::string_view reason) {
    if (errors_.size() >= kMaxErrors) {
      ++dropped_;
      return;
    }
    // A whole resource at fault (no handler, say) has no path inside it.
    errors_.push_back(path.empty() ? std::string(reason) : absl::StrCat(path, ": ", reason));
  }

  void duration(const google::protobuf::Duration& value, const std::string& path,
                bool must_be_positive) {
    const int64_t seconds = value.seconds();
    const int32_t nanos = value.nanos();
    if (nanos <= -1000000000 || nanos >= 1000000000 || (seconds > 0 && nanos < 0) ||
        (seconds < 0 && nanos > 0) || seconds > kMaxDurationSeconds ||
        seconds < -kMaxDurationSeconds) {
      add(path, "invalid duration");
    } else if (seconds < 0 || nanos < 0) {
      add(path, "must not be negative");
    } else if (must_be_positive && seconds == 0 && nanos == 0) {
      add(path, "must be greater than 0s");
    }
  }

  // Checks an address and returns its canonical "ip:port" key, or "" when it is invalid.
  std::string socketAddress(const v1::SocketAddress& address, const std::string& path) {
    std::string ip_key;
    if (address.address().empty()) {
      add(fieldPath(path, "address"), "required (an IP address such as 127.0.0.1 or ::1)");
      return "";
    }
    if (!internal::parseIpLiteral(address.address(), &ip_key)) {
      add(fieldPath(path, "address"),
          absl::StrFormat("\"%s\" is not an IP address (write an IPv4 or IPv6 literal such as "
                          "127.0.0.1 or ::1, without brackets or port)",
                          absl::Utf8SafeCHexEscape(address.address())));
      return "";
    }
    if (address.port() > 65535) {
      add(fieldPath(path, "port"),
          absl::StrFormat("%d is out of range (0 to 65535)", address.port()));
      return "";
    }
    return absl::StrCat(ip_key, "/", address.port());
  }

  void dynamicResources(const v1::Bootstrap& bootstrap) {
    if (bootstrap.node().id().empty()) {
      add("node.id", "required with dynamic_resources (this proxy's unique name, e.g. the pod)");
    }
    const v1::DynamicResources& dynamic = bootstrap.dynamic_resources();
    if (std::string reason = checkHostPort(dynamic.ads_address()); !reason.empty()) {
      add("dynamic_resources.ads_address", reason);
    }
    if (dynamic.has_initial_fetch_timeout()) {
      duration(dynamic.initial_fetch_timeout(), "dynamic_resources.initial_fetch_timeout", false);
    }
    if (dynamic.has_reconnect_base_interval()) {
      duration(dynamic.reconnect_base_interval(), "dynamic_resources.reconnect_base_interval",
               true);
    }
    if (dynamic.has_reconnect_max_interval()) {
      duration(dynamic.reconnect_max_interval(), "dynamic_resources.reconnect_max_interval", true);
    }
  }

  void admin(const v1::Bootstrap& bootstrap) {
    if (!bootstrap.has_admin() || !bootstrap.admin().has_address()) {
      std::string ip_key;
      internal::parseIpLiteral(kDefaultAdminAddress, &ip_key);
      admin_key_ = absl::StrCat(ip_key, "/", kDefaultAdminPort);
      return;
    }
    const v1::SocketAddress& address = bootstrap.admin().address();
    admin_key_ = socketAddress(address, "admin.address");
    if (address.port() == 0) admin_key_.clear();  // the kernel picks a free port
  }

  void addAll(const FieldErrors& errors) {
    for (const auto& [path, reason] : errors) add(path, reason);
  }

  // `tls` of a listener or cluster: mutual TLS needs a certificate. Dynamic resources are
  // checked against the bootstrap by the server (their NACK names the same field).
  void tlsNeedsIdentity(const std::string& tls_path) {
    if (check_identity_ && !has_identity_) {
      add(tls_path, "needs the bootstrap's identity (identity.static_certificate or "
                    "identity.certificate_authority)");
    }
  }

  void listener(const v1::Listener& listener, const std::string& path) {
    if (listener.has_tls()) {
      tlsNeedsIdentity(fieldPath(path, "tls"));
      addAll(downstreamTlsErrors(listener.tls(), fieldPath(path, "tls")));
    }
    if (listener.name().empty()) {
      add(fieldPath(path, "name"), "required (every listener needs a unique name)");
    } else if (auto [it, inserted] = listener_names_.emplace(listener.name(), path); !inserted) {
      add(fieldPath(path, "name"),
          absl::StrFormat("duplicate listener name \"%s\" (also %s)", listener.name(), it->second));
    }

    const std::string address_path = fieldPath(path, "address");
    if (!listener.has_address()) {
      add(address_path, "required (address and port to listen on)");
    } else if (std::string key = socketAddress(listener.address(), address_path);
               !key.empty() && listener.address().port() != 0) {
      const std::string display = hostPort(listener.address().address(), listener.address().port());
      if (key == admin_key_) {
        add(address_path, absl::StrFormat("%s is also the admin address", display));
      } else if (auto [it, inserted] = bound_addresses_.emplace(key, path); !inserted) {
        add(address_path, absl::StrFormat("%s is already used by %s", display, it->second));
      }
    }

    switch (listener.handler_case()) {
      case v1::Listener::kTcpProxy:
        tcpProxy(listener.tcp_proxy(), fieldPath(path, "tcp_proxy"));
        break;
      case v1::Listener::kHttp:
        http(listener.http(), fieldPath(path, "http"));
        break;
      case v1::Listener::HANDLER_NOT_SET:
        add(path, "no handler (set one of \"http\" or \"tcp_proxy\")");
        break;
    }
    if (listener.has_tcp_fallback()) {
      if (!listener.has_http()) {
        add(fieldPath(path, "tcp_fallback"), "only an \"http\" listener can fall back to TCP");
      } else {
        tcpProxy(listener.tcp_fallback(), fieldPath(path, "tcp_fallback"));
      }
    }
    if (listener.has_protocol_detection_timeout()) {
      duration(listener.protocol_detection_timeout(),
               fieldPath(path, "protocol_detection_timeout"), /*must_be_positive=*/true);
    }
    destinationChains(listener, path);
    if (listener.has_authorization()) {
      for (const auto& [error_path, reason] :
           authorizationPolicyErrors(listener.authorization(), fieldPath(path, "authorization"),
                                     /*tcp_only=*/listener.has_tcp_proxy())) {
        add(error_path, reason);
      }
    }
  }

  // RFC 9113 6.5.2: windows up to 2^31-1; a window below the 65535 default only slows things.
  void http2Options(const v1::Http2Options& options, const std::string& path) {
    constexpr uint32_t kMaxWindow = 0x7fffffff;
    if (options.initial_stream_window_size() > kMaxWindow) {
      add(fieldPath(path, "initial_stream_window_size"), "at most 2147483647 (RFC 9113 6.5.2)");
    }
    if (options.initial_connection_window_size() > kMaxWindow) {
      add(fieldPath(path, "initial_connection_window_size"),
          "at most 2147483647 (RFC 9113 6.5.2)");
    }
  }

  void clusterReference(const std::string& name, const std::string& path) {
    if (name.empty()) {
      add(path, "required (the name of a cluster)");
    } else if (check_cluster_references_ && cluster_names_.count(name) == 0) {
      add(path, absl::StrFormat("unknown cluster \"%s\"", absl::Utf8SafeCHexEscape(name)));
    }
  }

  // Chains match a connection's original destination, which only use_original_dst reads.
  void destinationChains(const v1::Listener& listener, const std::string& path) {
    const std::string chains_path = fieldPath(path, "destination_chains");
    if (listener.destination_chains_size() > 0 && !listener.use_original_dst()) {
      add(chains_path, "needs use_original_dst: true (chains match the original destination)");
    }
    for (int i = 0; i < listener.destination_chains_size(); ++i) {
      const v1::DestinationChain& chain = listener.destination_chains(i);
      const std::string entry = indexPath(chains_path, i);
      const std::string addresses_path = fieldPath(entry, "addresses");
      for (int j = 0; j < chain.addresses_size(); ++j) {
        if (!CidrRange::parse(chain.addresses(j)).ok()) {
          add(indexPath(addresses_path, j),
              absl::StrFormat("\"%s\" is not an IP or CIDR (e.g. 10.0.0.2 or 10.96.0.0/12)",
                              absl::Utf8SafeCHexEscape(chain.addresses(j))));
        }
      }
      if (chain.port() > 65535) {
        add(fieldPath(entry, "port"),
            absl::StrFormat("%d is out of range (0 for any, or 1 to 65535)", chain.port()));
      }
      if (!chain.has_tcp_proxy()) {
        add(fieldPath(entry, "tcp_proxy"), "required (e.g. tcp_proxy: {cluster: db})");
      } else {
        tcpProxy(chain.tcp_proxy(), fieldPath(entry, "tcp_proxy"));
      }
    }
  }

  void tcpProxy(const v1::TcpProxy& tcp, const std::string& path) {
    clusterReference(tcp.cluster(), fieldPath(path, "cluster"));
    if (tcp.has_idle_timeout())
      duration(tcp.idle_timeout(), fieldPath(path, "idle_timeout"), false);
  }

  void http(const v1::HttpConnectionManager& http, const std::string& path) {
    if (http.has_idle_timeout()) {
      duration(http.idle_timeout(), fieldPath(path, "idle_timeout"), false);
    }
    if (http.max_request_headers_kb() > kMaxRequestHeadersKbLimit) {
      add(fieldPath(path, "max_request_headers_kb"),
          absl::StrFormat("%d is too large (at most %d)", http.max_request_headers_kb(),
                          kMaxRequestHeadersKbLimit));
    }
    if (http.has_rds()) {
      // The route configuration arrives on the stream; until it does the listener is warming.
      if (http.rds().route_config_name().empty()) {
        add(fieldPath(path, "rds.route_config_name"),
            "required (the name of a RouteConfiguration resource)");
      }
    } else {
      routeConfig(http.route_config(), fieldPath(path, "route_config"));
    }
    if (http.has_http2()) http2Options(http.http2(), fieldPath(path, "http2"));
    if (http.has_local_rate_limit()) {
      rateLimit(http.local_rate_limit(), fieldPath(path, "local_rate_limit"));
    }
    if (http.has_tracing()) {
      // The compiler the listener uses: its errors already name the field path.
      auto compiled = tracing::TracingConfig::create(http.tracing(), fieldPath(path, "tracing"));
      if (!compiled.ok()) add("", compiled.status().message());
    }
  }

  // The compiler the proxy uses: its errors already name the field path.
  void rateLimit(const v1::LocalRateLimit& limit, const std::string& path) {
    auto compiled = router::LocalRateLimit::create(limit, path);
    if (!compiled.ok()) add("", compiled.status().message());
  }

  void routeConfig(const v1::RouteConfiguration& config, const std::string& path) {
    const std::string hosts_path = fieldPath(path, "virtual_hosts");
    if (config.virtual_hosts_size() == 0) {
      add(hosts_path, "at least one virtual host is required");
      return;
    }
    std::map<std::string, std::string> domains;  // lower-cased domain -> its path
    for (int i = 0; i < config.virtual_hosts_size(); ++i) {
      virtualHost(config.virtual_hosts(i), indexPath(hosts_path, i), domains);
    }
  }

  void domain(const std::string& domain, const std::string& path) {
    if (domain.empty()) {
      add(path, "must not be empty");
      return;
    }
    for (char c : domain) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
          absl::string_view("-._:[]*").find(c) == absl::string_view::npos) {
        add(path, absl::StrFormat("invalid character in domain \"%s\"",
                                  absl::Utf8SafeCHexEscape(domain)));
        return;
      }
    }
    const size_t stars = std::count(domain.begin(), domain.end(), '*');
    const bool wildcard_ok = stars == 0 || domain == "*" ||
                             (stars == 1 && domain.size() > 2 &&
                              (absl::StartsWith(domain, "*.") || absl::EndsWith(domain, ".*")));
    if (!wildcard_ok) {
      add(path, absl::StrFormat("invalid wildcard in \"%s\" (allowed: \"*\", a leading \"*.\" or "
                                "a trailing \".*\")",
                                domain));
    }
  }

  void virtualHost(const v1::VirtualHost& host, const std::string& path,
                   std::map<std::string, std::string>& domains) {
    const std::string domains_path = fieldPath(path, "domains");
    if (host.domains_size() == 0) {
      add(domains_path, "at least one domain is required (\"*\" matches any)");
    }
    for (int i = 0; i < host.domains_size(); ++i) {
      const std::string domain_path = indexPath(domains_path, i);
      domain(host.domains(i), domain_path);
      auto [it, inserted] = domains.emplace(absl::AsciiStrToLower(host.domains(i)), domain_path);
      if (!inserted) {
        add(domain_path, absl::StrFormat("duplicate domain \"%s\" (also %s)",
                                         absl::Utf8SafeCHexEscape(host.domains(i)), it->second));
      }
    }
    headerMutations(host, path);
    const std::string routes_path = fieldPath(path, "routes");
    for (int i = 0; i < host.routes_size(); ++i) route(host.routes(i), indexPath(routes_path, i));
  }

  template <typename T>
  void headerMutations(const T& holder, const std::string& path) {
    auto additions = [&](const auto& list, absl::string_view field) {
      for (int i = 0; i < list.size(); ++i) {
        const std::string entry = indexPath(fieldPath(path, field), i);
        if (std::string reason = internal::checkMutableHeaderName(list[i].key()); !reason.empty()) {
          add(fieldPath(entry, "key"), reason);
        }
        if (std::string reason = internal::checkHeaderValue(list[i].value()); !reason.empty()) {
          add(fieldPath(entry, "value"), reason);
        }
      }
    };
    auto removals = [&](const auto& list, absl::string_view field) {
      for (int i = 0; i < list.size(); ++i) {
        if (std::string reason = internal::checkMutableHeaderName(list[i]); !reason.empty()) {
          add(indexPath(fieldPath(path, field), i), reason);
        }
      }
    };
    additions(holder.request_headers_to_add(), "request_headers_to_add");
    removals(holder.request_headers_to_remove(), "request_headers_to_remove");
    additions(holder.response_headers_to_add(), "response_headers_to_add");
    removals(holder.response_headers_to_remove(), "response_headers_to_remove");
  }

  void regex(const std::string& pattern, const std::string& path) {
    RE2 compiled(pattern, RE2::Quiet);
    if (!compiled.ok()) {
      add(path, absl::StrFormat("invalid regex \"%s\": %s", absl::Utf8SafeCHexEscape(pattern),
                                compiled.error()));
    }
  }

  // Matchers may name pseudo-headers (":method"), unlike mutations.
  void matcherName(const std::string& name, const std::string& path) {
    absl::string_view token = name;
    if (absl::StartsWith(token, ":")) token.remove_prefix(1);
    if (name.empty()) {
      add(path, "required (the header or parameter name to match)");
    } else if (std::string reason = internal::checkHeaderName(token); !reason.empty()) {
      add(path, reason);
    }
  }

  void routeMatch(const v1::RouteMatch& match, const std::string& path) {
    switch (match.path_specifier_case()) {
      case v1::RouteMatch::kPrefix:
        if (!absl::StartsWith(match.prefix(), "/")) {
          add(fieldPath(path, "prefix"), "must start with \"/\"");
        }
        break;
      case v1::RouteMatch::kPath:
        if (!absl::StartsWith(match.path(), "/"))
          add(fieldPath(path, "path"), "must start with \"/\"");
        break;
      case v1::RouteMatch::kSafeRegex:
        regex(match.safe_regex(), fieldPath(path, "safe_regex"));
        break;
      case v1::RouteMatch::PATH_SPECIFIER_NOT_SET:
        add(path, "one of \"prefix\", \"path\" or \"safe_regex\" is required");
        break;
    }
    for (int i = 0; i < match.headers_size(); ++i) {
      const v1::HeaderMatcher& header = match.headers(i);
      const std::string header_path = indexPath(fieldPath(path, "headers"), i);
      matcherName(header.name(), fieldPath(header_path, "name"));
      if (header.match_specifier_case() == v1::HeaderMatcher::kSafeRegexMatch) {
        regex(header.safe_regex_match(), fieldPath(header_path, "safe_regex_match"));
      }
    }
    for (int i = 0; i < match.query_parameters_size(); ++i) {
      const v1::QueryParameterMatcher& parameter = match.query_parameters(i);
      const std::string parameter_path = indexPath(fieldPath(path, "query_parameters"), i);
      if (parameter.name().empty()) {
        add(fieldPath(parameter_path, "name"), "required (the query parameter to match)");
      }
      if (parameter.match_specifier_case() == v1::QueryParameterMatcher::kSafeRegexMatch) {
        regex(parameter.safe_regex_match(), fieldPath(parameter_path, "safe_regex_match"));
      }
    }
  }

  void routeAction(const v1::RouteAction& action, const v1::RouteMatch& match,
                   const std::string& path) {
    switch (action.cluster_specifier_case()) {
      case v1::RouteAction::kCluster:
        clusterReference(action.cluster(), fieldPath(path, "cluster"));
        break;
      case v1::RouteAction::kWeightedClusters: {
        const std::string clusters_path =
            fieldPath(fieldPath(path, "weighted_clusters"), "clusters");
        const auto& clusters = action.weighted_clusters().clusters();
        if (clusters.empty()) add(clusters_path, "at least one cluster is required");
        uint64_t total = 0;
        for (int i = 0; i < clusters.size(); ++i) {
          const std::string entry = indexPath(clusters_path, i);
          clusterReference(clusters[i].name(), fieldPath(entry, "name"));
          if (clusters[i].weight() == 0) add(fieldPath(entry, "weight"), "must be greater than 0");
          total += clusters[i].weight();
        }
        if (total > std::numeric_limits<uint32_t>::max()) {
          add(clusters_path, absl::StrFormat("the weights add up to %d (at most %d)", total,
                                             std::numeric_limits<uint32_t>::max()));
        }
        break;
      }
      case v1::RouteAction::CLUSTER_SPECIFIER_NOT_SET:
        add(path, "one of \"cluster\" or \"weighted_clusters\" is required");
        break;
    }
    if (!action.prefix_rewrite().empty()) {
      if (match.path_specifier_case() != v1::RouteMatch::kPrefix) {
        add(fieldPath(path, "prefix_rewrite"), "only allowed with a \"prefix\" match");
      } else if (!absl::StartsWith(action.prefix_rewrite(), "/")) {
        add(fieldPath(path, "prefix_rewrite"), "must start with \"/\"");
      }
    }
    const std::string& host = action.host_rewrite_literal();
    if (std::any_of(host.begin(), host.end(), [](char c) {
          return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f;
        })) {
      add(fieldPath(path, "host_rewrite_literal"),
          absl::StrFormat("\"%s\" is not a valid host", absl::Utf8SafeCHexEscape(host)));
    }
    if (action.has_timeout()) duration(action.timeout(), fieldPath(path, "timeout"), false);
    if (action.has_retry_policy()) {
      // The router's own compiler: its errors already name the field path.
      auto policy =
          router::RetryPolicy::create(action.retry_policy(), fieldPath(path, "retry_policy"));
      if (!policy.ok()) add("", policy.status().message());
    }
    if (action.has_idle_timeout()) {
      duration(action.idle_timeout(), fieldPath(path, "idle_timeout"), false);
    }
    for (int i = 0; i < action.hash_policy_size(); ++i) {
      const std::string entry =
          fieldPath(indexPath(fieldPath(path, "hash_policy"), i), "header_name");
      if (std::string reason = internal::checkHeaderName(action.hash_policy(i).header_name());
          !reason.empty()) {
        add(entry, reason);
      }
    }
  }

  void route(const v1::Route& route, const std::string& path) {
    if (!route.has_match()) {
      add(fieldPath(path, "match"), "required (e.g. match: {prefix: \"/\"})");
    } else {
      routeMatch(route.match(), fieldPath(path, "match"));
    }
    if (!route.has_route()) {
      add(fieldPath(path, "route"), "required (e.g. route: {cluster: backend})");
    } else {
      routeAction(route.route(), route.match(), fieldPath(path, "route"));
    }
    headerMutations(route, path);
    if (route.has_local_rate_limit()) {
      rateLimit(route.local_rate_limit(), fieldPath(path, "local_rate_limit"));
    }
  }

  void cluster(const v1::Cluster& cluster, const std::string& path) {
    if (cluster.has_outlier_detection()) {
      absl::Status status = upstream::OutlierEjections::check(
          cluster.outlier_detection(), fieldPath(path, "outlier_detection"));
      if (!status.ok()) add("", status.message());
    }
    if (cluster.has_retry_budget() && cluster.retry_budget().has_budget_percent()) {
      double percent = cluster.retry_budget().budget_percent().value();
      if (!(percent >= 0 && percent <= 100)) {
        add(fieldPath(fieldPath(path, "retry_budget"), "budget_percent"),
            "must be between 0 and 100");
      }
    }
    if (cluster.has_tls()) {
      tlsNeedsIdentity(fieldPath(path, "tls"));
      addAll(upstreamTlsErrors(cluster.tls(), fieldPath(path, "tls")));
    }
    if (cluster.name().empty()) {
      add(fieldPath(path, "name"), "required (every cluster needs a unique name)");
    } else if (auto [it, inserted] = seen_clusters_.emplace(cluster.name(), path); !inserted) {
      add(fieldPath(path, "name"),
          absl::StrFormat("duplicate cluster name \"%s\" (also %s)", cluster.name(), it->second));
    }
    if (cluster.has_http2()) {
      if (cluster.protocol() != v1::Cluster::HTTP2) {
        add(fieldPath(path, "http2"), "only applies with protocol: HTTP2");
      }
      http2Options(cluster.http2(), fieldPath(path, "http2"));
    }
    const std::string endpoints_path = fieldPath(path, "endpoints");
    if (cluster.type() == v1::Cluster::ORIGINAL_DST) {
      if (cluster.endpoints_size() > 0) {
        add(endpoints_path, "must be empty for type ORIGINAL_DST (the one host is each "
                            "connection's original destination)");
      }
    } else if (cluster.type() == v1::Cluster::EDS) {
      if (!dynamic_resources_) {
        add(fieldPath(path, "type"), "EDS needs dynamic_resources (endpoints come from the "
                                     "discovery stream)");
      }
      if (cluster.endpoints_size() > 0) {
        add(endpoints_path, "must be empty for type EDS (endpoints arrive as the "
                            "ClusterLoadAssignment named like the cluster)");
      }
    } else {
      endpoints(cluster.endpoints(), cluster.type(), endpoints_path, /*required=*/true);
    }
    if (cluster.has_connect_timeout()) {
      duration(cluster.connect_timeout(), fieldPath(path, "connect_timeout"), true);
    }
    if (cluster.has_dns_refresh_rate()) {
      duration(cluster.dns_refresh_rate(), fieldPath(path, "dns_refresh_rate"), true);
    }
    if (cluster.connection_pool().has_idle_timeout()) {
      duration(cluster.connection_pool().idle_timeout(),
               fieldPath(path, "connection_pool.idle_timeout"), false);
    }
    if (cluster.ring_hash_lb_config().minimum_ring_size() > kMaxRingSize) {
      add(fieldPath(path, "ring_hash_lb_config.minimum_ring_size"),
          absl::StrFormat("%d is too large (at most %d)",
                          cluster.ring_hash_lb_config().minimum_ring_size(), kMaxRingSize));
    }
  }

  void endpoints(const google::protobuf::RepeatedPtrField<v1::Endpoint>& list,
                 v1::Cluster::DiscoveryType type, const std::string& endpoints_path,
                 bool required) {
    if (required && list.empty()) add(endpoints_path, "at least one endpoint is required");
    for (int i = 0; i < list.size(); ++i) {
      const std::string entry = indexPath(endpoints_path, i);
      const v1::Endpoint& endpoint = list[i];
      const std::string address_path = fieldPath(entry, "address");
      if (!endpoint.has_address()) {
        add(address_path, "required (host and port of the upstream)");
        continue;
      }
      const std::string& host = endpoint.address().address();
      const std::string host_path = fieldPath(address_path, "address");
      if (type != v1::Cluster::STRICT_DNS) {
        if (host.empty()) {
          add(host_path, "required (an IP address)");
        } else if (!internal::parseIpLiteral(host)) {
          add(host_path, absl::StrFormat("\"%s\" is not an IP address (use type: STRICT_DNS for "
                                         "host names)",
                                         absl::Utf8SafeCHexEscape(host)));
        }
      } else if (std::string reason = internal::checkHostName(host); !reason.empty()) {
        add(host_path, reason);
      }
      const uint32_t port = endpoint.address().port();
      if (port == 0 || port > 65535) {
        add(fieldPath(address_path, "port"),
            port == 0 ? std::string("required (1 to 65535)")
                      : absl::StrFormat("%d is out of range (1 to 65535)", port));
      }
    }
  }

  std::set<std::string> cluster_names_;
  const bool check_cluster_references_;
  bool dynamic_resources_ = false;
  bool check_identity_ = false;  // a whole bootstrap, whose `identity` is known
  bool has_identity_ = false;
  std::map<std::string, std::string> listener_names_;   // name -> path
  std::map<std::string, std::string> seen_clusters_;    // name -> path
  std::map<std::string, std::string> bound_addresses_;  // ip/port -> listener path
  std::string admin_key_;
  std::vector<std::string> errors_;
  size_t dropped_ = 0;
};

}  // namespace

absl::Status validateBootstrap(const v1::Bootstrap& bootstrap) {
  std::set<std::string> cluster_names;
  for (const v1::Cluster& cluster : bootstrap.static_resources().clusters()) {
    cluster_names.insert(cluster.name());
  }
  return Validator(std::move(cluster_names)).run(bootstrap);
}

absl::Status validateListenerResource(const v1::Listener& listener) {
  return Validator().runListener(listener);
}

absl::Status validateRouteConfigurationResource(const v1::RouteConfiguration& routes) {
  return Validator().runRouteConfiguration(routes);
}

absl::Status validateClusterResource(const v1::Cluster& cluster) {
  return Validator().runCluster(cluster);
}

absl::Status validateClusterLoadAssignmentResource(const v1::ClusterLoadAssignment& assignment) {
  return Validator().runClusterLoadAssignment(assignment);
}

}  // namespace skiff::config
