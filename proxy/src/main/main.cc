// skiff-proxy: flags, config loading, then the server. The only code not linked into tests.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "config/bootstrap_loader.h"
#include "server/server.h"

namespace {

constexpr char kUsage[] = R"(skiff-proxy: the Skiff sidecar data plane

Usage:
  skiff-proxy --config FILE [--concurrency N] [--log-level LEVEL]
  skiff-proxy --validate FILE
  skiff-proxy --help

Flags:
  --config FILE      Bootstrap configuration (YAML or JSON; schema in proto/skiff/config/v1).
  --validate FILE    Check FILE (syntax, schema, references, regexes) and exit: 0 if valid,
                     1 with the path of the bad field otherwise. Binds nothing.
  --concurrency N    Worker threads, each with its own event loop (default: number of cores).
  --log-level LEVEL  trace, debug, info, warn, error or off (default: info). Logs go to stderr.
  --help             This text.

Signals: SIGTERM or SIGINT drain (stop accepting, finish in-flight requests up to the
bootstrap's drain_timeout) and exit 0.
Admin API (default 127.0.0.1:15000): /ready /stats/prometheus /config_dump /clusters
/listeners, POST /drain, POST /quitquitquit.
)";

// The whole check --validate promises: syntax, schema, references, route tables. Binds nothing.
absl::StatusOr<skiff::config::v1::Bootstrap> loadAndCheck(const std::string& path) {
  auto bootstrap = skiff::config::loadBootstrapFile(path);
  if (!bootstrap.ok()) return bootstrap.status();
  absl::Status status = skiff::config::validateBootstrap(*bootstrap);
  if (status.ok()) status = skiff::server::checkRouteTables(*bootstrap);
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
    auto bootstrap = loadAndCheck(validate_path);
    if (!bootstrap.ok()) {
      fprintf(stderr, "%s\n", std::string(bootstrap.status().message()).c_str());
      return 1;
    }
    printf("%s: OK\n", validate_path.c_str());
    return 0;
  }
  if (config_path.empty()) return usageError("--config or --validate is required");

  auto bootstrap = loadAndCheck(config_path);
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
