// skiff-control: flags, then the control plane until SIGTERM/SIGINT. The only code not linked
// into tests.

#include <signal.h>

#include <cstdio>
#include <string>

#include "cli_flags.h"
#include "common/logging.h"
#include "control_plane.h"

namespace {

constexpr char kUsage[] = R"(skiff-control: the Skiff control plane

Usage:
  skiff-control --config-dir DIR [--listen HOST:PORT] [--debounce MS] [--log-level LEVEL]
                [--ca-dir DIR | --ca-cert FILE --ca-key FILE [--ca-chain FILE]]
                [--token-dir DIR] [--max-cert-ttl SECONDS]
  skiff-control --help

Flags:
  --config-dir DIR     The mesh: every *.yaml / *.yml file of DIR (schema skiff.mesh.v1.MeshFile,
                       proto/skiff/mesh/v1/mesh.proto), merged in file-name order. Watched: a
                       valid change is pushed to the proxies it concerns; an invalid one is
                       refused with "FILE: field.path: reason" and the last good mesh stays.
                       An invalid mesh at startup exits 1.
  --listen HOST:PORT   gRPC address of the discovery service (ADS, state of the world and
                       delta), the status API and the certificate service (default
                       127.0.0.1:15010). Port 0: any.
  --ca-dir DIR         The certificate authority's directory: DIR/ca.pem and DIR/ca-key.pem.
                       When both are missing, a self-signed ECDSA P-256 root (10 years) is
                       generated there, with a warning: a development CA.
  --ca-cert FILE       The CA's signing certificate (a root, or an intermediate) ...
  --ca-key FILE        ... and its private key (PEM).
  --ca-chain FILE      The certificates above an intermediate --ca-cert, up to the root(s);
                       the self-signed ones form the trust bundle sent to proxies.
  --token-dir DIR      Workload tokens: DIR/WORKLOAD holds WORKLOAD's token, which its proxy
                       sends (--token-file) to be issued a certificate. Read at each request.
                       Without it the certificate service refuses every request.
  --max-cert-ttl SECONDS
                       The longest certificate lifetime issued (default 172800, 48h; proxies
                       ask for 24h unless configured otherwise).
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
  skiff::cli::ArgCursor args(argc, argv);
  std::string error;
  while (args.next()) {
    std::string value;
    if (args.is("--help") || args.is("-h")) {
      fputs(kUsage, stdout);
      return 0;
    } else if (args.is("--config-dir")) {
      if (!args.value(&options.config_dir, &error)) return usageError(error);
    } else if (args.is("--listen")) {
      if (!args.value(&options.listen, &error)) return usageError(error);
    } else if (args.is("--ca-dir")) {
      if (!args.value(&options.ca_dir, &error)) return usageError(error);
    } else if (args.is("--ca-cert")) {
      if (!args.value(&options.ca_cert, &error)) return usageError(error);
    } else if (args.is("--ca-key")) {
      if (!args.value(&options.ca_key, &error)) return usageError(error);
    } else if (args.is("--ca-chain")) {
      if (!args.value(&options.ca_chain, &error)) return usageError(error);
    } else if (args.is("--token-dir")) {
      if (!args.value(&options.token_dir, &error)) return usageError(error);
    } else if (args.is("--max-cert-ttl")) {
      int64_t seconds = 0;
      if (!args.intValue(60, 365LL * 24 * 3600, &seconds, &error)) return usageError(error);
      options.max_cert_ttl = std::chrono::seconds(seconds);
    } else if (args.is("--debounce")) {
      int64_t ms = 0;
      if (!args.intValue(0, 60000, &ms, &error)) return usageError(error);
      options.debounce = std::chrono::milliseconds(ms);
    } else if (args.is("--log-level")) {
      skiff::log::Level level;
      if (!args.value(&value, &error)) return usageError(error);
      if (!skiff::log::parseLevel(value, &level)) {
        return usageError("--log-level needs one of trace, debug, info, warn, error, off");
      }
      skiff::log::setLevel(level);
    } else {
      return usageError("unknown flag " + args.arg());
    }
  }
  if (options.config_dir.empty()) return usageError("--config-dir is required");
  if (!options.ca_dir.empty() && !options.ca_cert.empty()) {
    return usageError("--ca-dir and --ca-cert exclude each other");
  }
  if (options.ca_cert.empty() != options.ca_key.empty()) {
    return usageError("--ca-cert and --ca-key go together");
  }
  if (!options.ca_chain.empty() && options.ca_cert.empty()) {
    return usageError("--ca-chain needs --ca-cert");
  }

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
