#include "tls/tls_settings.h"

#include <atomic>

#include "common/logging.h"

namespace skiff::tls {
namespace {

// Names were checked by the validator; an invalid one is left out rather than failing here.
std::string wireFormat(const google::protobuf::RepeatedPtrField<std::string>& protocols,
                       std::initializer_list<const char*> defaults) {
  google::protobuf::RepeatedPtrField<std::string> chosen = protocols;
  if (chosen.empty()) {
    for (const char* name : defaults) *chosen.Add() = name;
  }
  std::string wire;
  for (const std::string& name : chosen) {
    if (name.empty() || name.size() > 255) continue;
    wire.push_back(static_cast<char>(name.size()));
    wire += name;
  }
  return wire;
}

// Logged once per process: a proxy without an identity refuses every TLS connection, and
// saying so for each would flood the log.
void logNoIdentityOnce() {
  static std::atomic<bool> logged{false};
  if (logged.exchange(true)) return;
  SKIFF_LOG(kWarn, "TLS connection refused: this proxy has no identity (certificate) yet");
}

}  // namespace

namespace {

std::string downstreamAlpn(const config::v1::Listener& listener) {
  using CodecType = config::v1::HttpConnectionManager;
  const auto& configured = listener.tls().alpn_protocols();
  if (!listener.has_http()) return wireFormat(configured, {});
  switch (listener.http().codec_type()) {
    case CodecType::HTTP1:
      return wireFormat(configured, {"http/1.1"});
    case CodecType::HTTP2:
      return wireFormat(configured, {"h2"});
    default:
      return wireFormat(configured, {"h2", "http/1.1"});
  }
}

}  // namespace

DownstreamTlsSettings::DownstreamTlsSettings(const config::v1::Listener& listener,
                                             stats::Registry& registry)
    : mode_(listener.tls().mode()),
      alpn_wire_(downstreamAlpn(listener)),
      stats_(TlsHandshakeStats::create(registry, "downstream", listener.name())) {
  for (const auto& [port, mode] : listener.tls().port_modes()) port_modes_[port] = mode;
}

config::v1::MtlsMode DownstreamTlsSettings::modeFor(uint16_t port) const {
  auto it = port_modes_.find(port);
  return it == port_modes_.end() ? mode_ : it->second;
}

std::unique_ptr<TlsTransport> DownstreamTlsSettings::newTransport() const {
  const TlsContextConstSharedPtr& context = currentContext();
  if (!context) {
    stats_.no_identity.inc();
    logNoIdentityOnce();
    return nullptr;
  }
  return TlsTransport::newServer(context, alpn_wire_, &stats_);
}

UpstreamTlsSettings::UpstreamTlsSettings(const config::v1::UpstreamTlsContext& config,
                                         bool http2, stats::Registry& registry,
                                         const std::string& cluster)
    : stats_(TlsHandshakeStats::create(registry, "upstream", cluster)) {
  options_.allowed_identities.assign(config.allowed_identities().begin(),
                                     config.allowed_identities().end());
  options_.alpn_wire =
      wireFormat(config.alpn_protocols(), {http2 ? "h2" : "http/1.1"});
  options_.sni = config.sni();
}

std::unique_ptr<TlsTransport> UpstreamTlsSettings::newTransport() const {
  const TlsContextConstSharedPtr& context = currentContext();
  if (!context) {
    stats_.no_identity.inc();
    logNoIdentityOnce();
    return nullptr;
  }
  return TlsTransport::newClient(context, options_, &stats_);
}

}  // namespace skiff::tls
