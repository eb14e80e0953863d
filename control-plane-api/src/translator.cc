// Mesh → per-proxy resources. Names: clusters "inbound|S", "outbound|T", "outbound|T|V" and
// "passthrough"; route configurations and listeners "inbound" and "outbound".

#include "translator.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/hash.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "mesh_loader.h"
#include "skiff/config/v1/cluster.pb.h"
#include "skiff/config/v1/listener.pb.h"
#include "skiff/config/v1/route.pb.h"
#include "skiff/config/v1/tls.pb.h"

namespace skiff::control {
namespace {

using config::v1::Cluster;
using config::v1::ClusterLoadAssignment;
using config::v1::Listener;
using config::v1::RouteConfiguration;

// Protobuf leaves map order to the implementation unless asked; versions must not depend on it.
std::string deterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

uint32_t firstSet(uint32_t preferred, uint32_t fallback, uint32_t otherwise) {
  if (preferred != 0) return preferred;
  if (fallback != 0) return fallback;
  return otherwise;
}

struct Resolved {
  const mesh::v1::Workload* workload = nullptr;
  const mesh::v1::Instance* instance = nullptr;
};

Resolved resolve(const mesh::v1::MeshFile& mesh, const config::v1::Node& node) {
  Resolved resolved;
  for (const mesh::v1::Workload& workload : mesh.workloads()) {
    for (const mesh::v1::Instance& instance : workload.instances()) {
      if (!node.id().empty() && instance.node() == node.id()) return {&workload, &instance};
    }
  }
  for (const mesh::v1::Workload& workload : mesh.workloads()) {
    if (!node.workload().empty() && workload.name() == node.workload()) {
      resolved.workload = &workload;
    }
  }
  return resolved;
}

const mesh::v1::Service* findService(const mesh::v1::MeshFile& mesh, const std::string& name) {
  for (const mesh::v1::Service& service : mesh.services()) {
    if (service.name() == name) return &service;
  }
  return nullptr;
}

const mesh::v1::TrafficPolicy* findPolicy(const mesh::v1::MeshFile& mesh,
                                          const std::string& service) {
  for (const mesh::v1::TrafficPolicy& policy : mesh.traffic_policies()) {
    if (policy.service() == service) return &policy;
  }
  return nullptr;
}

const mesh::v1::AuthorizationPolicy* findAuthorization(const mesh::v1::MeshFile& mesh,
                                                       const std::string& service) {
  for (const mesh::v1::AuthorizationPolicy& policy : mesh.authorization_policies()) {
    if (policy.service() == service) return &policy;
  }
  return nullptr;
}

std::string namespaceOf(const mesh::v1::Service* service) {
  return service == nullptr || service->namespace_().empty() ? kDefaultNamespace
                                                             : service->namespace_();
}

// spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT: what the CA puts in the workload's
// certificate and what callers' clusters accept.
std::string spiffeId(const mesh::v1::MeshFile& mesh, const mesh::v1::Workload& workload) {
  const std::string trust_domain = mesh.settings().trust_domain().empty()
                                        ? std::string(kDefaultTrustDomain)
                                        : mesh.settings().trust_domain();
  const std::string& account =
      workload.service_account().empty() ? workload.service() : workload.service_account();
  return absl::StrCat("spiffe://", trust_domain, "/ns", "/",
                      namespaceOf(findService(mesh, workload.service())), "/sa/", account);
}

config::v1::MtlsMode effectiveMode(const mesh::v1::MeshFile& mesh,
                                   const mesh::v1::Workload& workload) {
  if (workload.has_mtls()) return workload.mtls();
  if (mesh.settings().has_mtls()) return mesh.settings().mtls();
  return config::v1::PERMISSIVE;
}

bool isTcp(const mesh::v1::Service& service) {
  return service.protocol() == mesh::v1::Service::TCP;
}

std::string instanceAddress(const mesh::v1::Instance& instance) {
  return instance.address().empty() ? kDefaultInstanceAddress : instance.address();
}

// "10.0.0.1:8080", "[fd00::1]:8080": how a Host header names an address.
std::string hostPort(const std::string& address, uint32_t port) {
  if (address.find(':') != std::string::npos) return absl::StrCat("[", address, "]:", port);
  return absl::StrCat(address, ":", port);
}

// Addresses callers of `service` connect to (interception sees them as original destinations):
// the service's own, then its instances' explicitly set ones, without repeats. Instances left
// on the 127.0.0.1 default share it with everything local, so they do not claim it.
std::vector<std::string> serviceAddresses(const mesh::v1::MeshFile& mesh,
                                          const mesh::v1::Service& service) {
  std::vector<std::string> addresses;
  std::set<std::string> seen;
  for (const std::string& address : service.addresses()) {
    if (seen.insert(address).second) addresses.push_back(address);
  }
  for (const mesh::v1::Workload& workload : mesh.workloads()) {
    if (workload.service() != service.name()) continue;
    for (const mesh::v1::Instance& instance : workload.instances()) {
      if (!instance.address().empty() && seen.insert(instance.address()).second) {
        addresses.push_back(instance.address());
      }
    }
  }
  return addresses;
}

Cluster::Protocol upstreamProtocol(const mesh::v1::Service& service) {
  // TCP services are piped as bytes; the protocol only matters for HTTP.
  return service.protocol() == mesh::v1::Service::HTTP2 ||
                 service.protocol() == mesh::v1::Service::GRPC
             ? Cluster::HTTP2
             : Cluster::HTTP1;
}

std::string outboundCluster(const std::string& service, const std::string& version = "") {
  if (version.empty()) return absl::StrCat("outbound|", service);
  return absl::StrCat("outbound|", service, "|", version);
}

// Builds one proxy's resources type by type.
class Builder {
 public:
  Builder(const mesh::v1::MeshFile& mesh, NodeResources& out) : mesh_(mesh), out_(out) {
    for (const std::string& type : kPushOrder) out_.by_type[type];
  }

  void add(const std::string& type_url, const std::string& name,
           const google::protobuf::Message& message) {
    discovery::v1::Resource resource;
    resource.set_name(name);
    resource.mutable_resource()->set_type_url(type_url);
    resource.mutable_resource()->set_value(deterministicBytes(message));
    resource.set_version(stableHash(absl::StrCat(type_url, "\n", resource.resource().value())));
    out_.by_type[type_url].by_name[name] = std::move(resource);
  }

  void inbound(const mesh::v1::Workload& workload, const mesh::v1::Instance* instance) {
    const mesh::v1::Instance none;
    const mesh::v1::Instance& self = instance ? *instance : none;
    const mesh::v1::Service* service = findService(mesh_, workload.service());
    const std::string cluster_name = absl::StrCat("inbound|", workload.service());

    Cluster cluster;
    cluster.set_name(cluster_name);
    cluster.set_type(Cluster::STATIC);
    if (service) cluster.set_protocol(upstreamProtocol(*service));
    config::v1::SocketAddress* app = cluster.add_endpoints()->mutable_address();
    app->set_address(kDefaultInstanceAddress);
    app->set_port(firstSet(self.app_port(), workload.app_port(), 0));
    add(xds::kClusterType, cluster_name, cluster);

    Listener listener;
    listener.set_name("inbound");
    listener.set_traffic_direction(Listener::INBOUND);
    listener.mutable_address()->set_address(instanceAddress(self));
    listener.mutable_address()->set_port(
        firstSet(self.inbound_port(), workload.inbound_port(), kDefaultInboundPort));
    if (service != nullptr && isTcp(*service)) {
      listener.mutable_tcp_proxy()->set_cluster(cluster_name);
    } else {
      const mesh::v1::TrafficPolicy* policy = findPolicy(mesh_, workload.service());
      RouteConfiguration routes;
      routes.set_name("inbound");
      config::v1::VirtualHost* host = routes.add_virtual_hosts();
      host->set_name("inbound");
      host->add_domains("*");
      if (policy != nullptr) inboundRateLimitedRoutes(*policy, cluster_name, *host);
      config::v1::Route* route = host->add_routes();
      route->mutable_match()->set_prefix("/");
      inboundAction(cluster_name, *route);
      add(xds::kRouteType, "inbound", routes);
      listener.mutable_http()->mutable_rds()->set_route_config_name("inbound");
      // The service protects itself: every instance's proxy refuses what is above the rate.
      if (policy != nullptr && policy->has_rate_limit()) {
        *listener.mutable_http()->mutable_local_rate_limit() = policy->rate_limit();
      }
      sidecarTracing(*listener.mutable_http());
    }
    // Redirected connections keep the application port they were sent to: port modes and
    // authorization ports are about it, not about the proxy's inbound port.
    listener.set_use_original_dst(true);
    inboundTls(workload, listener);
    inboundAuthorization(workload, listener);
    sameRulesForTheInboundPort(firstSet(self.app_port(), workload.app_port(), 0), listener);
    add(xds::kListenerType, "inbound", listener);
  }

  void outbound(const mesh::v1::Workload& workload, const mesh::v1::Instance* instance) {
    std::vector<const mesh::v1::Service*> called;
    std::set<std::string> seen;
    if (workload.calls().empty()) {
      for (const mesh::v1::Service& service : mesh_.services()) called.push_back(&service);
    } else {
      for (const std::string& name : workload.calls()) {
        const mesh::v1::Service* service = findService(mesh_, name);
        if (service && seen.insert(name).second) called.push_back(service);
      }
    }

    Listener listener;
    listener.set_name("outbound");
    listener.set_traffic_direction(Listener::OUTBOUND);
    listener.mutable_address()->set_address(kDefaultInstanceAddress);
    listener.mutable_address()->set_port(
        firstSet(instance ? instance->outbound_port() : 0, workload.outbound_port(),
                 kDefaultOutboundPort));
    listener.mutable_http()->mutable_rds()->set_route_config_name("outbound");
    sidecarTracing(*listener.mutable_http());
    listener.set_use_original_dst(true);
    // Intercepted traffic that is not HTTP and not a mesh TCP service still leaves the pod,
    // to the address the application dialled.
    listener.mutable_tcp_fallback()->set_cluster(kPassthroughCluster);
    Cluster passthrough;
    passthrough.set_name(kPassthroughCluster);
    passthrough.set_type(Cluster::ORIGINAL_DST);
    add(xds::kClusterType, kPassthroughCluster, passthrough);

    RouteConfiguration routes;
    routes.set_name("outbound");
    std::set<std::string> claimed_domains;
    for (const mesh::v1::Service* service : called) {
      serviceClusters(*service);
      if (isTcp(*service)) {
        destinationChain(*service, listener);
      } else {
        serviceHost(*service, *routes.add_virtual_hosts(), claimed_domains);
      }
    }
    // HTTP to anything that is not a mesh service (an API outside the cluster, a pod without
    // a sidecar) leaves the pod unchanged, to where the application sent it: "zero code" must
    // not break the application's other calls. Last, so every service host matches first.
    config::v1::VirtualHost* passthrough_host = routes.add_virtual_hosts();
    passthrough_host->set_name(kPassthroughCluster);
    passthrough_host->add_domains("*");
    config::v1::Route* passthrough_route = passthrough_host->add_routes();
    passthrough_route->set_name(kPassthroughCluster);
    passthrough_route->mutable_match()->set_prefix("/");
    passthrough_route->mutable_route()->set_cluster(kPassthroughCluster);
    // The application's own timeouts apply, as they would without the mesh.
    passthrough_route->mutable_route()->mutable_timeout()->set_seconds(0);
    add(xds::kRouteType, "outbound", routes);
    add(xds::kListenerType, "outbound", listener);
  }

 private:
  // Sidecars always propagate trace context (both hops of a call then share one trace);
  // settings.tracing only tunes it.
  void sidecarTracing(config::v1::HttpConnectionManager& http) const {
    *http.mutable_tracing() = mesh_.settings().tracing();
  }

  static void inboundAction(const std::string& cluster_name, config::v1::Route& route) {
    route.mutable_route()->set_cluster(cluster_name);
    // The caller's proxy enforces the timeout; a second one here would only race it.
    route.mutable_route()->mutable_timeout()->set_seconds(0);
  }

  // A route's rate_limit is enforced where the requests arrive, by the service's instances: when
  // any route of the policy has one, the inbound table repeats the policy's routes in order
  // (first match wins on both sides, so a request takes the same route on both), each to the
  // application, with its limit if it has one. The caller's proxy has already rewritten a
  // route's prefix, so such a route matches the rewritten prefix here.
  static void inboundRateLimitedRoutes(const mesh::v1::TrafficPolicy& policy,
                                       const std::string& cluster_name,
                                       config::v1::VirtualHost& host) {
    const auto& sources = policy.routes();
    if (std::none_of(sources.begin(), sources.end(),
                     [](const mesh::v1::HttpRoute& source) { return source.has_rate_limit(); })) {
      return;
    }
    for (const mesh::v1::HttpRoute& source : sources) {
      config::v1::Route* route = host.add_routes();
      route->set_name(source.name());
      *route->mutable_match() = source.match();
      if (!source.prefix_rewrite().empty()) {
        route->mutable_match()->set_prefix(source.prefix_rewrite());
      }
      inboundAction(cluster_name, *route);
      if (source.has_rate_limit()) *route->mutable_local_rate_limit() = source.rate_limit();
    }
  }

  // No `tls` when the workload takes plaintext only; otherwise its mode and port overrides.
  void inboundTls(const mesh::v1::Workload& workload, Listener& listener) {
    const config::v1::MtlsMode mode = effectiveMode(mesh_, workload);
    bool any_tls = mode != config::v1::DISABLE;
    for (const auto& [port, port_mode] : workload.port_mtls()) {
      any_tls = any_tls || port_mode != config::v1::DISABLE;
    }
    if (!any_tls) return;
    config::v1::DownstreamTlsContext* tls = listener.mutable_tls();
    tls->set_mode(mode);
    for (const auto& [port, port_mode] : workload.port_mtls()) {
      (*tls->mutable_port_modes())[port] = port_mode;
    }
  }

  // The service's policy; without one, a mesh-wide DENY default becomes a rule-less policy
  // (an ALLOW default needs nothing: a listener without authorization allows everything).
  void inboundAuthorization(const mesh::v1::Workload& workload, Listener& listener) {
    if (const mesh::v1::AuthorizationPolicy* policy =
            findAuthorization(mesh_, workload.service())) {
      config::v1::AuthorizationPolicy* out = listener.mutable_authorization();
      *out->mutable_rules() = policy->rules();
      out->set_default_action(policy->default_action());
    } else if (mesh_.settings().default_authorization() == config::v1::AuthorizationPolicy::DENY) {
      listener.mutable_authorization()->set_default_action(config::v1::AuthorizationPolicy::DENY);
    }
  }

  // Callers' proxies dial the inbound port itself (their endpoints are ADDRESS:inbound_port),
  // so its connections carry that port, not the application's, as their destination; only
  // redirected plaintext carries the application port. Everything the inbound listener
  // accepts goes to the application port, so the application port's mTLS mode and
  // authorization ports apply to the inbound port too: otherwise `ports: [8080]` would never
  // match a mesh caller, and a plaintext client dialling 15006 directly would escape a STRICT
  // port override.
  void sameRulesForTheInboundPort(uint32_t app_port, Listener& listener) {
    const uint32_t inbound_port = listener.address().port();
    if (app_port == 0 || inbound_port == app_port) return;
    if (listener.has_tls()) {
      auto& modes = *listener.mutable_tls()->mutable_port_modes();
      if (auto it = modes.find(app_port); it != modes.end()) {
        const config::v1::MtlsMode mode = it->second;
        modes[inbound_port] = mode;
      }
    }
    if (listener.has_authorization()) {
      for (config::v1::AuthorizationRule& rule :
           *listener.mutable_authorization()->mutable_rules()) {
        const auto& ports = rule.ports();
        if (std::find(ports.begin(), ports.end(), app_port) != ports.end() &&
            std::find(ports.begin(), ports.end(), inbound_port) == ports.end()) {
          rule.add_ports(inbound_port);
        }
      }
    }
  }

  // Mutual TLS to the workloads behind a cluster, accepting exactly their identities, unless
  // one of them takes plaintext only (DISABLE): the others are then PERMISSIVE (validation
  // refuses DISABLE beside STRICT) and take plaintext too.
  void upstreamTls(const std::vector<const mesh::v1::Workload*>& workloads, Cluster& cluster) {
    std::set<std::string> identities;
    for (const mesh::v1::Workload* workload : workloads) {
      identities.insert(spiffeId(mesh_, *workload));
      if (meshCallerMode(mesh_.settings(), *workload) == config::v1::DISABLE) return;
    }
    if (workloads.empty()) return;
    for (const std::string& identity : identities) {
      cluster.mutable_tls()->add_allowed_identities(identity);
    }
  }

  // A TCP service is found by where the application connects (interception): its addresses on
  // the service's port go to its all-versions cluster. No address: nothing to match on.
  void destinationChain(const mesh::v1::Service& service, Listener& listener) {
    std::vector<std::string> addresses = serviceAddresses(mesh_, service);
    if (addresses.empty()) return;
    config::v1::DestinationChain* chain = listener.add_destination_chains();
    chain->set_name(service.name());
    for (const std::string& address : addresses) chain->add_addresses(address);
    chain->set_port(service.port());
    chain->mutable_tcp_proxy()->set_cluster(outboundCluster(service.name()));
  }

  // "outbound|T" (every version) and "outbound|T|V" per version, with their assignments.
  void serviceClusters(const mesh::v1::Service& service) {
    std::map<std::string, ClusterLoadAssignment> assignments;
    std::map<std::string, std::vector<const mesh::v1::Workload*>> workloads_by_cluster;
    ClusterLoadAssignment& all = assignments[outboundCluster(service.name())];
    for (const mesh::v1::Workload& workload : mesh_.workloads()) {
      if (workload.service() != service.name()) continue;
      workloads_by_cluster[outboundCluster(service.name())].push_back(&workload);
      workloads_by_cluster[outboundCluster(service.name(), workload.version())].push_back(
          &workload);
      ClusterLoadAssignment& version = assignments[outboundCluster(service.name(),
                                                                   workload.version())];
      for (const mesh::v1::Instance& instance : workload.instances()) {
        config::v1::Endpoint endpoint;
        endpoint.mutable_address()->set_address(
            instance.address().empty() ? kDefaultInstanceAddress : instance.address());
        endpoint.mutable_address()->set_port(
            firstSet(instance.inbound_port(), workload.inbound_port(), kDefaultInboundPort));
        endpoint.set_weight(instance.weight());
        *all.add_endpoints() = endpoint;
        *version.add_endpoints() = endpoint;
      }
    }
    for (auto& [name, assignment] : assignments) {
      Cluster cluster;
      cluster.set_name(name);
      cluster.set_type(Cluster::EDS);
      cluster.set_protocol(upstreamProtocol(service));
      upstreamTls(workloads_by_cluster[name], cluster);
      if (const mesh::v1::TrafficPolicy* policy = findPolicy(mesh_, service.name())) {
        // Limits the callers keep for their own calls to the service.
        if (policy->has_retry_budget()) *cluster.mutable_retry_budget() = policy->retry_budget();
        if (policy->has_circuit_breakers()) {
          *cluster.mutable_circuit_breakers() = policy->circuit_breakers();
        }
        if (policy->has_outlier_detection()) {
          *cluster.mutable_outlier_detection() = policy->outlier_detection();
        }
      }
      add(xds::kClusterType, name, cluster);
      assignment.set_cluster_name(name);
      add(xds::kEndpointType, name, assignment);
    }
  }

  // A split over versions: weight-0 entries dropped, one entry a plain cluster, none the
  // service's all-versions cluster.
  void splitAction(const std::string& service,
                   const google::protobuf::RepeatedPtrField<mesh::v1::VersionWeight>& split,
                   config::v1::RouteAction& action) {
    std::vector<const mesh::v1::VersionWeight*> kept;
    for (const mesh::v1::VersionWeight& entry : split) {
      if (entry.weight() > 0) kept.push_back(&entry);
    }
    if (kept.empty()) {
      action.set_cluster(outboundCluster(service));
    } else if (kept.size() == 1) {
      action.set_cluster(outboundCluster(service, kept[0]->version()));
    } else {
      for (const mesh::v1::VersionWeight* entry : kept) {
        config::v1::ClusterWeight* weight = action.mutable_weighted_clusters()->add_clusters();
        weight->set_name(outboundCluster(service, entry->version()));
        weight->set_weight(entry->weight());
      }
    }
  }

  // `claimed` holds the domains earlier services of the same route configuration took: an
  // address two services share stays with the first (domains must be unique).
  void serviceHost(const mesh::v1::Service& service, config::v1::VirtualHost& host,
                   std::set<std::string>& claimed) {
    const std::string& name = service.name();
    const std::string ns = namespaceOf(&service);
    host.set_name(name);
    auto claim = [&](const std::string& domain) {
      if (claimed.insert(domain).second) host.add_domains(domain);
    };
    for (const std::string& domain :
         {name, absl::StrCat(name, ".", ns), absl::StrCat(name, ".", ns, ".svc.cluster.local")}) {
      claim(domain);
      claim(absl::StrCat(domain, ":", service.port()));
    }
    // An application that dials an address (intercepted) sends it as the Host.
    for (const std::string& address : serviceAddresses(mesh_, service)) {
      if (address.find('/') == std::string::npos) claim(hostPort(address, service.port()));
    }
    const mesh::v1::TrafficPolicy* policy = findPolicy(mesh_, name);
    if (policy) {
      for (const mesh::v1::HttpRoute& source : policy->routes()) {
        config::v1::Route* route = host.add_routes();
        route->set_name(source.name());
        *route->mutable_match() = source.match();
        config::v1::RouteAction* action = route->mutable_route();
        splitAction(name, source.split(), *action);
        if (source.has_timeout()) {
          *action->mutable_timeout() = source.timeout();
        } else if (policy->has_timeout()) {
          *action->mutable_timeout() = policy->timeout();
        }
        if (source.has_retries()) {
          *action->mutable_retry_policy() = source.retries();
        } else if (policy->has_retries()) {
          *action->mutable_retry_policy() = policy->retries();
        }
        action->set_prefix_rewrite(source.prefix_rewrite());
      }
    }
    config::v1::Route* fallback = host.add_routes();
    fallback->set_name("default");
    fallback->mutable_match()->set_prefix("/");
    if (policy) {
      splitAction(name, policy->default_split(), *fallback->mutable_route());
      if (policy->has_timeout()) *fallback->mutable_route()->mutable_timeout() = policy->timeout();
      if (policy->has_retries()) {
        *fallback->mutable_route()->mutable_retry_policy() = policy->retries();
      }
    } else {
      fallback->mutable_route()->set_cluster(outboundCluster(name));
    }
  }

  const mesh::v1::MeshFile& mesh_;
  NodeResources& out_;
};

}  // namespace

std::string stableHash(const std::string& bytes) {
  return absl::StrFormat("%016x", hash64(bytes));
}

std::string typeVersion(const std::map<std::string, std::string>& versions_by_name) {
  std::string joined;
  for (const auto& [name, version] : versions_by_name) absl::StrAppend(&joined, name, "=", version,
                                                                       "\n");
  return stableHash(joined);
}

NodeResources translate(const mesh::v1::MeshFile& mesh, const config::v1::Node& node) {
  NodeResources out;
  Builder builder(mesh, out);
  Resolved resolved = resolve(mesh, node);
  if (resolved.workload != nullptr) {
    out.workload = resolved.workload->name();
    out.instance_found = resolved.instance != nullptr;
    builder.inbound(*resolved.workload, resolved.instance);
    builder.outbound(*resolved.workload, resolved.instance);
  }
  for (auto& [type_url, resources] : out.by_type) {
    std::map<std::string, std::string> versions;
    for (const auto& [name, resource] : resources.by_name) versions[name] = resource.version();
    resources.version = typeVersion(versions);
  }
  return out;
}

MeshSnapshot::MeshSnapshot(mesh::v1::MeshFile mesh)
    : mesh_(std::move(mesh)), version_(stableHash(deterministicBytes(mesh_))) {}

std::shared_ptr<const NodeResources> MeshSnapshot::resourcesFor(
    const config::v1::Node& node) const {
  // Translation depends only on the node's id and workload.
  std::pair<std::string, std::string> key{node.id(), node.workload()};
  std::lock_guard<std::mutex> lock(cache_mutex_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  auto resources = std::make_shared<const NodeResources>(translate(mesh_, node));
  cache_.emplace(std::move(key), resources);
  return resources;
}

}  // namespace skiff::control
