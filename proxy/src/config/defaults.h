#pragma once

// The values the bootstrap's unset fields stand for, and the validator's upper bounds. One place,
// so the loader, the runtime and docs/configuration.md agree.

#include <cstdint>

#include "absl/time/time.h"

namespace skiff::config {

inline constexpr char kDefaultAdminAddress[] = "127.0.0.1";
inline constexpr uint32_t kDefaultAdminPort = 15000;
inline constexpr absl::Duration kDefaultDrainTimeout = absl::Seconds(10);

// Cluster.
inline constexpr absl::Duration kDefaultConnectTimeout = absl::Seconds(5);
inline constexpr absl::Duration kDefaultDnsRefreshRate = absl::Seconds(5);
inline constexpr absl::Duration kDefaultPoolIdleTimeout = absl::Seconds(60);
inline constexpr uint64_t kDefaultMinimumRingSize = 1024;
inline constexpr uint64_t kMaxRingSize = 8 * 1024 * 1024;
inline constexpr uint32_t kDefaultEndpointWeight = 1;  // what weight 0 means

// Listeners. A zero idle timeout disables it.
inline constexpr absl::Duration kDefaultHttpIdleTimeout = absl::Hours(1);
inline constexpr absl::Duration kDefaultTcpIdleTimeout = absl::Hours(1);
inline constexpr uint32_t kDefaultMaxRequestHeadersKb = 60;
inline constexpr uint32_t kMaxRequestHeadersKbLimit = 8192;
inline constexpr uint64_t kDefaultMaxRequestBodyBytes = 0;  // unlimited
// How long an HTTP listener with a TCP fallback waits for a client's first bytes.
inline constexpr absl::Duration kDefaultProtocolDetectionTimeout = absl::Milliseconds(100);
// The header carrying a mutual-TLS caller's identity to the application (tls.proto).
inline constexpr char kDefaultClientIdentityHeader[] = "x-forwarded-client-cert";

// Routes. A zero route timeout disables it; idle_timeout has no default.
inline constexpr absl::Duration kDefaultRouteTimeout = absl::Seconds(15);

}  // namespace skiff::config
