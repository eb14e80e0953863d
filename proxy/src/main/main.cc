// skiff-proxy: flags, config loading, then the server. The only code not linked into tests.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "config/bootstrap_loader.h"
#include "identity/identity_manager.h"
#include "server/server.h"

namespace {

constexpr char kUsage[] = R"(skiff-proxy: the Skiff sidecar data plane

Usage:
  skiff-proxy --config FILE [--concurrency N] [--log-level LEVEL]
  skiff-proxy --node-id ID --workload NAME --control-plane HOST:PORT [--token-file PATH]
              [--admin-address HOST:PORT]
  skiff-proxy --validate FILE [--node-id ID] [--workload NAME] [--control-plane HOST:PORT]
  skiff-proxy --help

Flags:
  --config FILE      Bootstrap configuration (YAML or JSON; schema in proto/skiff/config/v1).
  --validate FILE    Check FILE (syntax, schema, references, regexes), with the flags below
                     applied, and exit: 0 if valid, 1 with the path of the bad field otherwise.
                     Binds nothing.
  --node-id ID       This proxy's identity towards the control plane (bootstrap node.id).
  --workload NAME    The mesh workload this proxy fronts (bootstrap node.workload).
  --control-plane HOST:PORT
                     skiff-control's gRPC address (bootstrap dynamic_resources.ads_address).
                     With --node-id (and usually --workload), no config file is needed: the
                     proxy starts with no static resources and gets everything from the
                     control plane. With --config, these flags override the file's values.
  --token-file PATH  The workload's token for skiff-control's certificate authority: sets
                     bootstrap identity.certificate_authority {token_file: PATH} (the CA's
                     address defaults to --control-plane). The proxy makes its own key, is
                     issued a SPIFFE certificate for its workload, renews it at half its
                     lifetime, and is not /ready before the first one. The file is re-read at
                     every renewal.
  --admin-address HOST:PORT
                     Admin API address (bootstrap admin.address; default 127.0.0.1:15000).
  --concurrency N    Worker threads, each with its own event loop (default: number of cores).
  --log-level LEVEL  trace, debug, info, warn, error or off (default: info). Logs go to stderr.
  --help             This text.

Dynamic configuration (xDS): a bootstrap with `node` and `dynamic_resources` opens one
aggregated discovery stream to the control plane:
  node: {id: frontend-0, workload: frontend}
  dynamic_resources:
    ads_address: 127.0.0.1:15010     # required
    api_type: DELTA                  # or STATE_OF_THE_WORLD; DELTA falls back to it
    initial_fetch_timeout: 15s       # /ready waits this long for the first config
    reconnect_base_interval: 0.25s   # backoff with jitter while the control plane is away
    reconnect_max_interval: 30s
Listeners, routes (listeners with `http: {rds: {route_config_name: NAME}}`), clusters and
endpoints (clusters of type EDS) then arrive live; a change is applied as a whole or refused
(NACK) with the last good config kept. Removed or changed listeners drain.

Signals: SIGTERM or SIGINT drain (stop accepting, finish in-flight requests up to the
bootstrap's drain_timeout) and exit 0.
Admin API (default 127.0.0.1:15000): /ready /stats/prometheus /config_dump /clusters
/listeners /certificates, POST /drain, POST /quitquitquit, POST /rotate_certificate.
)";

// What the command line says about the control plane; empty fields change nothing.
struct XdsFlags {
  std::string node_id;
  std::string workload;
  std::string control_plane;
  std::string admin_address;
  std::string token_file;

  bool any() const { return !node_id.empty() || !workload.empty() || !control_plane.empty(); }
};

// Splits "host:port" ("[::1]:port" for IPv6).
bool splitHostPort(const std::string& text, std::string* host, uint32_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = text.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(text.substr(colon + 1), port) && *port < 65536;
}

void applyFlags(const XdsFlags& flags, skiff::config::v1::Bootstrap& bootstrap) {
  if (!flags.node_id.empty()) bootstrap.mutable_node()->set_id(flags.node_id);
  if (!flags.workload.empty()) bootstrap.mutable_node()->set_workload(flags.workload);
  if (!flags.control_plane.empty()) {
    bootstrap.mutable_dynamic_resources()->set_ads_address(flags.control_plane);
  }
  if (!flags.token_file.empty()) {
    // Replaces a static_certificate identity from the file (flags override the file).
    bootstrap.mutable_identity()->mutable_certificate_authority()->set_token_file(
        flags.token_file);
  }
  if (!flags.admin_address.empty()) {
    std::string host;
    uint32_t port = 0;
    splitHostPort(flags.admin_address, &host, &port);  // checked when the flag was read
    bootstrap.mutable_admin()->mutable_address()->set_address(host);
    bootstrap.mutable_admin()->mutable_address()->set_port(port);
  }
}

// The whole check --validate promises: syntax, schema, references, route tables. Binds nothing.
// Without a file, the bootstrap is built from the flags alone (a mesh sidecar).
absl::StatusOr<skiff::config::v1::Bootstrap> loadAndCheck(const std::string& path,
                                                          const XdsFlags& flags) {
  skiff::config::v1::Bootstrap bootstrap;
  if (!path.empty()) {
    auto loaded = skiff::config::loadBootstrapFile(path);
    if (!loaded.ok()) return loaded.status();
    bootstrap = std::move(*loaded);
  }
  applyFlags(flags, bootstrap);
  absl::Status status = skiff::config::validateBootstrap(bootstrap);
  if (status.ok()) status = skiff::server::checkRouteTables(bootstrap);
  if (status.ok()) status = skiff::identity::IdentityManager::optionsFrom(bootstrap).status();
  if (!status.ok()) return status;
  return bootstrap;
}

int usageError(const std::string& message) {
  fprintf(stderr, "skiff-proxy: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string validate_path;
  XdsFlags xds_flags;
  int concurrency = static_cast<int>(std::thread::hardware_concurrency());
  if (concurrency <= 0) concurrency = 1;

  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    size_t eq = flag.find('=');
    bool inline_value = flag.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto next = [&](std::string* out) {
      if (inline_value) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (flag == "--help" || flag == "-h") {
      fputs(kUsage, stdout);
      return 0;
    } else if (flag == "--config" || flag == "-c") {
      if (!next(&config_path)) return usageError("--config needs a file");
    } else if (flag == "--validate") {
      if (!next(&validate_path)) return usageError("--validate needs a file");
    } else if (flag == "--node-id") {
      if (!next(&xds_flags.node_id) || xds_flags.node_id.empty()) {
        return usageError("--node-id needs an id");
      }
    } else if (flag == "--workload") {
      if (!next(&xds_flags.workload) || xds_flags.workload.empty()) {
        return usageError("--workload needs a name");
      }
    } else if (flag == "--token-file") {
      if (!next(&xds_flags.token_file) || xds_flags.token_file.empty()) {
        return usageError("--token-file needs a path");
      }
    } else if (flag == "--control-plane" || flag == "--admin-address") {
      std::string text, host;
      uint32_t port = 0;
      if (!next(&text) || !splitHostPort(text, &host, &port) ||
          (port == 0 && flag == "--control-plane")) {
        return usageError(flag + " needs HOST:PORT");
      }
      (flag == "--control-plane" ? xds_flags.control_plane : xds_flags.admin_address) = text;
    } else if (flag == "--concurrency") {
      std::string text;
      if (!next(&text) || !absl::SimpleAtoi(text, &concurrency) || concurrency < 1 ||
          concurrency > 256) {
        return usageError("--concurrency needs a number from 1 to 256");
      }
    } else if (flag == "--log-level") {
      std::string text;
      skiff::log::Level level;
      if (!next(&text) || !skiff::log::parseLevel(text, &level)) {
        return usageError("--log-level needs one of trace, debug, info, warn, error, off");
      }
      skiff::log::setLevel(level);
    } else {
      return usageError("unknown flag " + flag);
    }
  }

  if (!validate_path.empty()) {
    auto bootstrap = loadAndCheck(validate_path, xds_flags);
    if (!bootstrap.ok()) {
      fprintf(stderr, "%s\n", std::string(bootstrap.status().message()).c_str());
      return 1;
    }
    printf("%s: OK\n", validate_path.c_str());
    return 0;
  }
  if (config_path.empty() && !xds_flags.any()) {
    return usageError("--config, --validate or --node-id with --control-plane is required");
  }
  if (config_path.empty() && xds_flags.control_plane.empty()) {
    return usageError("without --config, --control-plane is required");
  }

  auto bootstrap = loadAndCheck(config_path, xds_flags);
  if (!bootstrap.ok()) {
    fprintf(stderr, "skiff-proxy: invalid config: %s\n",
            std::string(bootstrap.status().message()).c_str());
    return 1;
  }

  skiff::server::ServerOptions options;
  options.concurrency = concurrency;
  skiff::server::Server server(std::move(*bootstrap), options);
  absl::Status status = server.run();
  if (!status.ok()) {
    fprintf(stderr, "skiff-proxy: cannot start: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
