// Parsing, merging and semantic validation of the mesh directory.

#include "mesh_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "config/authorization_checks.h"
#include "config/bootstrap_loader.h"
#include "config/field_checks.h"
#include "router/route_rate_limit.h"
#include "tracing/tracing_config.h"
#include "upstream/outlier_ejections.h"
#include "router/route_retry_policy.h"

namespace skiff::control {
namespace {

using mesh::v1::MeshFile;

constexpr size_t kMaxErrors = 20;

// Where an element of the merged mesh came from, for error messages.
struct Origin {
  std::string file;
  std::string path;  // e.g. "services[2]"
};

std::string at(const std::string& parent, absl::string_view field) {
  return absl::StrCat(parent, ".", field);
}

std::string indexed(const std::string& parent, int index) {
  return absl::StrCat(parent, "[", index, "]");
}

// The proxy's route validator is the one authority on route matches: the match goes into the
// smallest route configuration, and only the errors about the match are kept (with the
// wrapper's path replaced by the mesh's).
std::vector<std::string> routeMatchErrors(const config::v1::RouteMatch& match,
                                          const std::string& mesh_path) {
  config::v1::RouteConfiguration routes;
  routes.set_name("r");
  config::v1::VirtualHost* host = routes.add_virtual_hosts();
  host->set_name("h");
  host->add_domains("*");
  config::v1::Route* route = host->add_routes();
  *route->mutable_match() = match;
  route->mutable_route()->set_cluster("c");

  std::vector<std::string> errors;
  absl::Status status = config::validateRouteConfigurationResource(routes);
  if (status.ok()) return errors;
  absl::string_view message = status.message();
  absl::ConsumePrefix(&message, "route configuration \"r\": ");
  constexpr absl::string_view kMatchPath = "virtual_hosts[0].routes[0].match";
  for (absl::string_view error : absl::StrSplit(message, "; ")) {
    if (absl::ConsumePrefix(&error, kMatchPath)) errors.push_back(absl::StrCat(mesh_path, error));
  }
  return errors;
}

class MeshValidator {
 public:
  explicit MeshValidator(const std::vector<std::pair<std::string, const MeshFile*>>& files)
      : files_(files) {}

  absl::Status run() {
    indexServices();
    for (const auto& [file, mesh] : files_) {
      for (int i = 0; i < mesh->workloads_size(); ++i) {
        workload(file, mesh->workloads(i), indexed("workloads", i));
      }
    }
    for (const auto& [file, mesh] : files_) {
      for (int i = 0; i < mesh->traffic_policies_size(); ++i) {
        policy(file, mesh->traffic_policies(i), indexed("traffic_policies", i));
      }
    }
    mixedModes();
    for (const auto& [file, mesh] : files_) {
      if (mesh->has_settings()) settings(file, mesh->settings());
      for (int i = 0; i < mesh->authorization_policies_size(); ++i) {
        authorization(file, mesh->authorization_policies(i),
                      indexed("authorization_policies", i));
      }
    }
    if (errors_.empty()) return absl::OkStatus();
    std::string message = absl::StrJoin(errors_, "; ");
    if (dropped_ > 0) absl::StrAppend(&message, "; and ", dropped_, " more errors");
    return absl::InvalidArgumentError(message);
  }

 private:
  void add(const std::string& file, const std::string& path, absl::string_view reason) {
    if (errors_.size() >= kMaxErrors) {
      ++dropped_;
      return;
    }
    errors_.push_back(absl::StrCat(file, ": ", path, ": ", reason));
  }

  void port(const std::string& file, uint32_t value, const std::string& path, bool required) {
    if (value == 0 && required) {
      add(file, path, "required (1 to 65535)");
    } else if (value > 65535) {
      add(file, path, absl::StrFormat("%d is out of range (1 to 65535)", value));
    }
  }

  // Names end up in cluster names and authorities, so they must be valid host-name labels.
  void name(const std::string& file, const std::string& value, const std::string& path,
            absl::string_view what) {
    if (value.empty()) {
      add(file, path, absl::StrCat("required (the ", what, "'s name)"));
    } else if (std::string reason = config::internal::checkHostName(value); !reason.empty()) {
      add(file, path, reason);
    } else if (value.find('|') != std::string::npos) {
      add(file, path, "must not contain \"|\"");
    }
  }

  // Remembers the first definition of a unique name; a repeat is an error at the repeat.
  void unique(std::map<std::string, Origin>& seen, const std::string& key, const std::string& file,
              const std::string& path, absl::string_view what) {
    auto [it, inserted] = seen.emplace(key, Origin{file, path});
    if (!inserted) {
      add(file, path,
          absl::StrFormat("duplicate %s \"%s\" (also %s: %s)", what, key, it->second.file,
                          it->second.path));
    }
  }

  void indexServices() {
    for (const auto& [file, mesh] : files_) {
      for (int i = 0; i < mesh->services_size(); ++i) {
        const mesh::v1::Service& service = mesh->services(i);
        const std::string path = indexed("services", i);
        name(file, service.name(), at(path, "name"), "service");
        if (!service.name().empty()) unique(services_, service.name(), file, at(path, "name"),
                                            "service");
        if (!service.namespace_().empty()) {
          name(file, service.namespace_(), at(path, "namespace"), "namespace");
        }
        port(file, service.port(), at(path, "port"), /*required=*/true);
        for (int j = 0; j < service.addresses_size(); ++j) {
          serviceAddress(file, service, service.addresses(j), indexed(at(path, "addresses"), j));
        }
        if (!service.name().empty()) service_protocols_[service.name()] = service.protocol();
      }
    }
    // Versions of each service, for split references.
    for (const auto& [file, mesh] : files_) {
      for (const mesh::v1::Workload& workload : mesh->workloads()) {
        versions_[workload.service()].insert(workload.version());
      }
    }
  }

  void serviceReference(const std::string& file, const std::string& value,
                        const std::string& path) {
    if (value.empty()) {
      add(file, path, "required (the name of a service)");
    } else if (services_.count(value) == 0) {
      add(file, path, absl::StrFormat("unknown service \"%s\"", value));
    }
  }

  void workload(const std::string& file, const mesh::v1::Workload& workload,
                const std::string& path) {
    name(file, workload.name(), at(path, "name"), "workload");
    if (!workload.name().empty()) {
      unique(workloads_, workload.name(), file, at(path, "name"), "workload");
    }
    serviceReference(file, workload.service(), at(path, "service"));
    if (workload.version().empty()) {
      add(file, at(path, "version"), "required (the version traffic splits refer to, e.g. v1)");
    } else {
      name(file, workload.version(), at(path, "version"), "version");
    }
    port(file, workload.app_port(), at(path, "app_port"), /*required=*/false);
    port(file, workload.inbound_port(), at(path, "inbound_port"), false);
    port(file, workload.outbound_port(), at(path, "outbound_port"), false);
    bool app_port_missing = workload.app_port() == 0 && workload.instances().empty();
    for (int i = 0; i < workload.instances_size(); ++i) {
      const mesh::v1::Instance& instance = workload.instances(i);
      const std::string instance_path = indexed(at(path, "instances"), i);
      if (instance.node().empty()) {
        add(file, at(instance_path, "node"), "required (the node id of the instance's proxy)");
      } else {
        unique(nodes_, instance.node(), file, at(instance_path, "node"), "node id");
      }
      if (!instance.address().empty() &&
          !config::internal::parseIpLiteral(instance.address())) {
        add(file, at(instance_path, "address"),
            absl::StrFormat("\"%s\" is not an IP address", instance.address()));
      }
      port(file, instance.app_port(), at(instance_path, "app_port"), false);
      port(file, instance.inbound_port(), at(instance_path, "inbound_port"), false);
      port(file, instance.outbound_port(), at(instance_path, "outbound_port"), false);
      if (workload.app_port() == 0 && instance.app_port() == 0) app_port_missing = true;
    }
    if (app_port_missing) {
      add(file, at(path, "app_port"),
          "required (the application's port; set it on the workload or on every instance)");
    }
    for (int i = 0; i < workload.calls_size(); ++i) {
      serviceReference(file, workload.calls(i), indexed(at(path, "calls"), i));
    }
    if (!workload.service_account().empty()) {
      dnsLabel(file, workload.service_account(), at(path, "service_account"), "service account");
    }
    if (workload.has_mtls()) mtlsMode(file, workload.mtls(), at(path, "mtls"));
    // Map entries in key order, so errors come out the same on every run.
    std::map<uint32_t, config::v1::MtlsMode> port_modes(workload.port_mtls().begin(),
                                                        workload.port_mtls().end());
    for (const auto& [app_port, mode] : port_modes) {
      const std::string entry_path = absl::StrCat(at(path, "port_mtls"), "[", app_port, "]");
      if (app_port == 0 || app_port > 65535) {
        add(file, entry_path, absl::StrFormat("port %d is out of range (1 to 65535)", app_port));
      }
      mtlsMode(file, mode, entry_path);
    }
  }

  // Service accounts and namespaces end up in SPIFFE IDs (and, in Kubernetes, are DNS labels).
  void dnsLabel(const std::string& file, const std::string& value, const std::string& path,
                absl::string_view what) {
    bool ok = !value.empty() && value.size() <= 63 && value.front() != '-' && value.back() != '-';
    for (char c : value) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    }
    if (!ok) {
      add(file, path,
          absl::StrFormat("\"%s\" is not a valid %s name (lower-case letters, digits and '-', "
                          "at most 63)",
                          value, what));
    }
  }

  void mtlsMode(const std::string& file, int mode, const std::string& path) {
    if (!config::v1::MtlsMode_IsValid(mode)) {
      add(file, path, absl::StrFormat("%d is not STRICT, PERMISSIVE or DISABLE", mode));
    }
  }

  // A ClusterIP (or any address callers dial): an IP literal or a CIDR range, claimed with the
  // service's port by one service only (interception routes ADDRESS:PORT to it).
  void serviceAddress(const std::string& file, const mesh::v1::Service& service,
                      const std::string& value, const std::string& path) {
    std::string ip = value;
    std::string key;
    if (size_t slash = value.find('/'); slash != std::string::npos) {
      ip = value.substr(0, slash);
      uint32_t bits = 0;
      const std::string length = value.substr(slash + 1);
      const uint32_t max_bits = ip.find(':') == std::string::npos ? 32 : 128;
      if (length.empty() || length.size() > 3 ||
          length.find_first_not_of("0123456789") != std::string::npos ||
          (bits = std::stoul(length)) > max_bits) {
        add(file, path, absl::StrFormat("\"%s\": the prefix length must be 0 to %d", value,
                                        max_bits));
        return;
      }
    }
    if (!config::internal::parseIpLiteral(ip, &key)) {
      add(file, path, absl::StrFormat("\"%s\" is not an IP address or CIDR range", value));
      return;
    }
    if (value.find('/') != std::string::npos) key += value.substr(value.find('/'));
    unique(service_addresses_, absl::StrCat(key, " port ", service.port()), file, path,
           "service address");
  }

  // Callers reach every version of a service through one all-versions cluster, which either
  // originates mutual TLS or not: plaintext suits DISABLE and PERMISSIVE workloads, TLS suits
  // PERMISSIVE and STRICT ones, nothing suits DISABLE and STRICT together.
  void mixedModes() {
    mesh::v1::MeshSettings mesh_settings;
    for (const auto& [file, mesh] : files_) {
      if (mesh->has_settings()) mesh_settings = mesh->settings();
    }
    std::map<std::string, std::pair<std::string, Origin>> disabled, strict;  // service -> first
    for (const auto& [file, mesh] : files_) {
      for (int i = 0; i < mesh->workloads_size(); ++i) {
        const mesh::v1::Workload& workload = mesh->workloads(i);
        const config::v1::MtlsMode mode = meshCallerMode(mesh_settings, workload);
        if (mode == config::v1::PERMISSIVE) continue;
        auto& mine = mode == config::v1::DISABLE ? disabled : strict;
        auto& other = mode == config::v1::DISABLE ? strict : disabled;
        mine.emplace(workload.service(),
                     std::make_pair(workload.name(), Origin{file, indexed("workloads", i)}));
        auto it = other.find(workload.service());
        if (it != other.end()) {
          add(file, at(indexed("workloads", i), "mtls"),
              absl::StrFormat("%s for callers, but workload \"%s\" of service \"%s\" is %s "
                              "(%s: %s): callers' cluster for the service cannot be both "
                              "plaintext and mutual TLS (make one of them PERMISSIVE)",
                              config::v1::MtlsMode_Name(mode), it->second.first,
                              workload.service(),
                              mode == config::v1::DISABLE ? "STRICT" : "DISABLE",
                              it->second.second.file, it->second.second.path));
          other.erase(it);  // one error per pair of modes is enough
        }
      }
    }
  }

  void settings(const std::string& file, const mesh::v1::MeshSettings& settings) {
    if (settings_file_.empty()) {
      settings_file_ = file;
    } else {
      add(file, "settings",
          absl::StrFormat("set in more than one file (also %s)", settings_file_));
    }
    const std::string& domain = settings.trust_domain();
    if (!domain.empty()) {
      bool ok = domain.size() <= 255;
      for (char c : domain) {
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                    c == '_');
      }
      if (!ok) {
        add(file, "settings.trust_domain",
            absl::StrFormat("\"%s\" is not a SPIFFE trust domain (lower-case letters, digits, "
                            "'.', '-' and '_')",
                            domain));
      }
    }
    if (settings.has_mtls()) mtlsMode(file, settings.mtls(), "settings.mtls");
    if (!config::v1::AuthorizationPolicy::Action_IsValid(settings.default_authorization())) {
      add(file, "settings.default_authorization",
          absl::StrFormat("%d is not ALLOW or DENY", settings.default_authorization()));
    }
    if (settings.has_tracing()) {
      // The proxy's own compiler: sidecars get this message as their listeners' http.tracing.
      auto compiled = tracing::TracingConfig::create(settings.tracing(), "settings.tracing");
      if (!compiled.ok()) addPathed(file, compiled.status().message());
    }
  }

  void authorization(const std::string& file, const mesh::v1::AuthorizationPolicy& policy,
                     const std::string& path) {
    serviceReference(file, policy.service(), at(path, "service"));
    if (services_.count(policy.service()) == 0) return;
    unique(authorization_policies_, policy.service(), file, at(path, "service"),
           "authorization policy for service");
    const bool tcp = service_protocols_[policy.service()] == mesh::v1::Service::TCP;
    if (!config::v1::AuthorizationPolicy::Action_IsValid(policy.default_action())) {
      add(file, at(path, "default_action"),
          absl::StrFormat("%d is not ALLOW or DENY", policy.default_action()));
    }
    for (int i = 0; i < policy.rules_size(); ++i) {
      for (const auto& [error_path, reason] : config::authorizationRuleErrors(
               policy.rules(i), indexed(at(path, "rules"), i), /*tcp_only=*/tcp)) {
        add(file, error_path, reason);
      }
    }
  }

  void split(const std::string& file, const std::string& service,
             const google::protobuf::RepeatedPtrField<mesh::v1::VersionWeight>& entries,
             const std::string& path) {
    if (entries.empty()) return;
    const std::set<std::string>& versions = versions_[service];
    uint64_t total = 0;
    std::set<std::string> seen;
    for (int i = 0; i < entries.size(); ++i) {
      const std::string entry_path = indexed(path, i);
      total += entries[i].weight();
      if (versions.count(entries[i].version()) == 0) {
        add(file, at(entry_path, "version"),
            absl::StrFormat("service \"%s\" has no version \"%s\"", service,
                            entries[i].version()));
      } else if (!seen.insert(entries[i].version()).second) {
        add(file, at(entry_path, "version"),
            absl::StrFormat("version \"%s\" appears twice", entries[i].version()));
      }
    }
    if (total == 0) add(file, path, "weights are all 0 (at least one must be positive)");
  }

  void timeout(const std::string& file, const google::protobuf::Duration& value,
               const std::string& path) {
    if (value.seconds() < 0 || value.nanos() < 0) add(file, path, "must not be negative");
  }

  void policy(const std::string& file, const mesh::v1::TrafficPolicy& policy,
              const std::string& path) {
    serviceReference(file, policy.service(), at(path, "service"));
    if (services_.count(policy.service()) == 0) return;
    unique(policies_, policy.service(), file, at(path, "service"), "traffic policy for service");
    for (int i = 0; i < policy.routes_size(); ++i) {
      const mesh::v1::HttpRoute& route = policy.routes(i);
      const std::string route_path = indexed(at(path, "routes"), i);
      for (const std::string& error : routeMatchErrors(route.match(), at(route_path, "match"))) {
        addPathed(file, error);
      }
      split(file, policy.service(), route.split(), at(route_path, "split"));
      if (route.has_timeout()) timeout(file, route.timeout(), at(route_path, "timeout"));
      if (route.has_retries()) retries(file, route.retries(), at(route_path, "retries"));
      if (route.has_rate_limit()) {
        rateLimit(file, policy.service(), route.rate_limit(), at(route_path, "rate_limit"));
      }
      if (!route.prefix_rewrite().empty() &&
          route.match().path_specifier_case() != config::v1::RouteMatch::kPrefix) {
        add(file, at(route_path, "prefix_rewrite"), "only a prefix match can be rewritten");
      }
    }
    split(file, policy.service(), policy.default_split(), at(path, "default_split"));
    if (policy.has_timeout()) timeout(file, policy.timeout(), at(path, "timeout"));
    if (policy.has_retries()) retries(file, policy.retries(), at(path, "retries"));
    if (policy.has_outlier_detection()) {
      absl::Status status = upstream::OutlierEjections::check(policy.outlier_detection(),
                                                              at(path, "outlier_detection"));
      if (!status.ok()) addPathed(file, status.message());
    }
    if (policy.has_rate_limit()) {
      rateLimit(file, policy.service(), policy.rate_limit(), at(path, "rate_limit"));
    }
    if (policy.retry_budget().has_budget_percent()) {
      double percent = policy.retry_budget().budget_percent().value();
      if (!(percent >= 0 && percent <= 100)) {
        add(file, at(at(path, "retry_budget"), "budget_percent"), "must be between 0 and 100");
      }
    }
  }

  // The proxy's own compiler decides, so the mesh and the proxy accept the same policies; its
  // message names the field path.
  void retries(const std::string& file, const config::v1::RetryPolicy& retries,
               const std::string& path) {
    auto compiled = router::RetryPolicy::create(retries, path);
    if (!compiled.ok()) addPathed(file, compiled.status().message());
  }

  // Rate limits are enforced by HTTP listeners: a TCP service has none to put them on.
  void rateLimit(const std::string& file, const std::string& service,
                 const config::v1::LocalRateLimit& limit, const std::string& path) {
    if (service_protocols_[service] == mesh::v1::Service::TCP) {
      add(file, path, absl::StrFormat("service \"%s\" is TCP: rate limits apply to HTTP and "
                                      "gRPC services only", service));
      return;
    }
    auto compiled = router::LocalRateLimit::create(limit, path);
    if (!compiled.ok()) addPathed(file, compiled.status().message());
  }

  // An error that already starts with its field path (the proxy's own checks write them so).
  void addPathed(const std::string& file, absl::string_view error) {
    if (errors_.size() < kMaxErrors) {
      errors_.push_back(absl::StrCat(file, ": ", error));
    } else {
      ++dropped_;
    }
  }

  const std::vector<std::pair<std::string, const MeshFile*>>& files_;
  std::map<std::string, Origin> services_;
  std::map<std::string, Origin> workloads_;
  std::map<std::string, Origin> nodes_;
  std::map<std::string, Origin> policies_;
  std::map<std::string, Origin> authorization_policies_;
  std::map<std::string, Origin> service_addresses_;
  std::map<std::string, mesh::v1::Service::Protocol> service_protocols_;
  std::string settings_file_;
  std::map<std::string, std::set<std::string>> versions_;
  std::vector<std::string> errors_;
  size_t dropped_ = 0;
};

// yaml-cpp turns a file of comments only into a null document, which the JSON mapping rejects;
// such a file is an empty MeshFile.
bool hasContent(const std::string& yaml) {
  std::istringstream lines(yaml);
  std::string line;
  while (std::getline(lines, line)) {
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line.compare(first, 3, "---") == 0 && line.find_first_not_of(" \t\r-", first) ==
                                                  std::string::npos) {
      continue;
    }
    return true;
  }
  return false;
}

}  // namespace

config::v1::MtlsMode meshCallerMode(const mesh::v1::MeshSettings& settings,
                                    const mesh::v1::Workload& workload) {
  if (auto it = workload.port_mtls().find(workload.app_port());
      workload.app_port() != 0 && it != workload.port_mtls().end()) {
    return it->second;
  }
  if (workload.has_mtls()) return workload.mtls();
  if (settings.has_mtls()) return settings.mtls();
  return config::v1::PERMISSIVE;
}

bool isMeshFileName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  return absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml");
}

absl::StatusOr<MeshFile> parseMesh(const std::vector<MeshSource>& sources) {
  std::vector<MeshFile> parsed(sources.size());
  std::vector<std::string> errors;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!hasContent(sources[i].yaml)) continue;
    absl::Status status = config::yamlToMessage(sources[i].yaml, parsed[i]);
    if (!status.ok()) errors.push_back(absl::StrCat(sources[i].file, ": ", status.message()));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));

  std::vector<std::pair<std::string, const MeshFile*>> files;
  MeshFile merged;
  for (size_t i = 0; i < sources.size(); ++i) {
    files.emplace_back(sources[i].file, &parsed[i]);
    merged.MergeFrom(parsed[i]);
  }
  absl::Status status = MeshValidator(files).run();
  if (!status.ok()) return status;
  return merged;
}

absl::StatusOr<MeshFile> loadMeshDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::directory_iterator entries(dir, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": cannot read the directory: ", error.message()));
  }
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (isMeshFileName(name) && entry.is_regular_file(error)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": no *.yaml or *.yml files"));
  }
  std::vector<MeshSource> sources;
  for (const std::string& name : names) {
    const std::string file = (fs::path(dir) / name).string();
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat(file, ": cannot be read"));
    std::stringstream text;
    text << in.rdbuf();
    sources.push_back(MeshSource{file, text.str()});
  }
  return parseMesh(sources);
}

}  // namespace skiff::control
