#pragma once

// The proxy's certificate from skiff-control, kept fresh (main thread). Asks for the first
// certificate at start, applies each one through a callback (Server::updateIdentity: new
// connections use it, open ones keep theirs), renews at renew_at_fraction of the lifetime with
// a new key, retries failures with backoff while the current certificate stays in use, and
// renews at once on request (POST /rotate_certificate).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "event/dispatcher.h"
#include "identity/certificate_client.h"
#include "identity/renewal_schedule.h"
#include "skiff/config/v1/bootstrap.pb.h"
#include "skiff/config/v1/tls.pb.h"
#include "stats/stats.h"
#include "tls/certificate_bundle.h"

namespace skiff::identity {

struct IdentityManagerOptions {
  config::v1::CertificateAuthority config;  // address already defaulted
  std::string workload;
  std::string node_id;
  std::chrono::milliseconds request_timeout{10000};
};

// What GET /certificates shows.
struct IdentityStatus {
  bool has_certificate = false;
  std::string identity;
  std::string serial_hex;
  SystemTime not_before{};
  SystemTime not_after{};
  SystemTime renew_at{};
  std::string certificate_chain_pem;
  std::string trust_bundle_pem;
  std::vector<std::string> trust_bundle_subjects;
  std::string ca_address;
  std::string last_error;  // of the latest attempt; "" after a success
  int consecutive_failures = 0;
  bool renewing = false;  // an attempt is in flight
};

class IdentityManager {
 public:
  // Applies a new bundle; an error counts as a failed renewal (the old bundle stays).
  using Apply = std::function<absl::Status(const tls::CertificateBundle&)>;

  // Checks the options (address, token file, renew_at_fraction); the error names the field.
  static absl::Status validate(const config::v1::CertificateAuthority& config);
  // The options for `bootstrap`'s identity.certificate_authority (the address defaulted to
  // dynamic_resources.ads_address), checked; nullopt when the bootstrap has none. Used at
  // startup and by --validate.
  static absl::StatusOr<std::optional<IdentityManagerOptions>> optionsFrom(
      const config::v1::Bootstrap& bootstrap);

  IdentityManager(event::Dispatcher& main, stats::Registry& registry,
                  IdentityManagerOptions options, Apply apply,
                  std::function<void()> on_first_certificate);
  ~IdentityManager();

  void start();
  // Renews now (a new key and certificate), unless an attempt is already in flight.
  void rotateNow();
  bool hasCertificate() const { return status_.has_certificate; }
  const IdentityStatus& status() const { return status_; }

 private:
  void attempt();
  void onResult(absl::StatusOr<SignResult> result);
  absl::Status install(const SignResult& result);
  void scheduleRetry(const absl::Status& error);

  event::Dispatcher& main_;
  const IdentityManagerOptions options_;
  Apply apply_;
  std::function<void()> on_first_certificate_;
  std::unique_ptr<CertificateClient> client_;
  std::unique_ptr<event::Timer> timer_;
  RetryBackoff backoff_;
  IdentityStatus status_;
  bool rotate_after_attempt_ = false;
  std::string last_logged_error_;
  bool expired_logged_ = false;
  stats::Counter* renewals_ok_;
  stats::Counter* renewals_failed_;
  stats::Gauge* expiry_;
};

}  // namespace skiff::identity
