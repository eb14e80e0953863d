// skiff-control: flags, then the control plane until SIGTERM/SIGINT. The only code not linked
// into tests.

#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "control_plane.h"

namespace {

constexpr char kUsage[] = R"(skiff-control: the Skiff control plane

Usage:
  skiff-control --config-dir DIR [--listen HOST:PORT] [--debounce MS] [--log-level LEVEL]
  skiff-control --help

Flags:
  --config-dir DIR     The mesh: every *.yaml / *.yml file of DIR (schema skiff.mesh.v1.MeshFile,
                       proto/skiff/mesh/v1/mesh.proto), merged in file-name order. Watched: a
                       valid change is pushed to the proxies it concerns; an invalid one is
                       refused with "FILE: field.path: reason" and the last good mesh stays.
                       An invalid mesh at startup exits 1.
  --listen HOST:PORT   gRPC address of the discovery service (ADS, state of the world and
                       delta) and the status API (default 127.0.0.1:15010). Port 0: any.
  --debounce MS        Quiet time after the last file event before reloading (default 20).
  --log-level LEVEL    trace, debug, info, warn, error or off (default: info). Logs go to stderr.
  --help               This text.

Signals: SIGTERM or SIGINT close every stream and exit 0.
Protocol and translation rules: docs/xds.md.
)";

int usageError(const std::string& message) {
  fprintf(stderr, "skiff-control: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  skiff::control::ControlPlaneOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    const size_t eq = flag.find('=');
    const bool inline_value = flag.rfind("--", 0) == 0 && eq != std::string::npos;
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
    } else if (flag == "--config-dir") {
      if (!next(&options.config_dir)) return usageError("--config-dir needs a directory");
    } else if (flag == "--listen") {
      if (!next(&options.listen)) return usageError("--listen needs HOST:PORT");
    } else if (flag == "--debounce") {
      int ms = 0;
      if (!next(&value) || !absl::SimpleAtoi(value, &ms) || ms < 0) {
        return usageError("--debounce needs a number of milliseconds");
      }
      options.debounce = std::chrono::milliseconds(ms);
    } else if (flag == "--log-level") {
      skiff::log::Level level;
      if (!next(&value) || !skiff::log::parseLevel(value, &level)) {
        return usageError("--log-level needs one of trace, debug, info, warn, error, off");
      }
      skiff::log::setLevel(level);
    } else {
      return usageError("unknown flag " + flag);
    }
  }
  if (options.config_dir.empty()) return usageError("--config-dir is required");

  // Signals are taken synchronously by this thread; every other thread (gRPC's, the watcher)
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  skiff::control::ControlPlane control_plane(options);
  absl::Status status = control_plane.start();
  if (!status.ok()) {
    fprintf(stderr, "skiff-control: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  SKIFF_LOG(kInfo, "signal %d: shutting down", received);
  control_plane.stop();
  return 0;
}
