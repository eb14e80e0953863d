#include "identity/identity_manager.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "identity/certificate_info.h"

namespace skiff::identity {
namespace {

std::string formatTime(SystemTime t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(t), absl::UTCTimeZone());
}

int64_t toSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Refusals that retrying cannot fix until an operator acts get a louder, explicit log line.
bool needsOperator(absl::StatusCode code) {
  return code == absl::StatusCode::kUnauthenticated ||
         code == absl::StatusCode::kPermissionDenied ||
         code == absl::StatusCode::kFailedPrecondition ||
         code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound;
}

}  // namespace

absl::Status IdentityManager::validate(const config::v1::CertificateAuthority& config) {
  if (config.address().empty()) {
    return absl::InvalidArgumentError(
        "identity.certificate_authority.address: required without "
        "dynamic_resources.ads_address");
  }
  if (config.token_file().empty()) {
    return absl::InvalidArgumentError(
        "identity.certificate_authority.token_file: required (the workload's token)");
  }
  const double fraction = config.renew_at_fraction();
  if (fraction != 0 && !(fraction > 0 && fraction < 1)) {
    return absl::InvalidArgumentError(
        "identity.certificate_authority.renew_at_fraction: must be in (0, 1)");
  }
  if (config.has_ttl() && (config.ttl().seconds() < 0 || config.ttl().nanos() < 0)) {
    return absl::InvalidArgumentError("identity.certificate_authority.ttl: must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<IdentityManagerOptions>> IdentityManager::optionsFrom(
    const config::v1::Bootstrap& bootstrap) {
  if (!bootstrap.identity().has_certificate_authority()) return std::nullopt;
  IdentityManagerOptions options;
  options.config = bootstrap.identity().certificate_authority();
  if (options.config.address().empty()) {
    options.config.set_address(bootstrap.dynamic_resources().ads_address());
  }
  absl::Status status = validate(options.config);
  if (!status.ok()) return status;
  options.workload = bootstrap.node().workload();
  options.node_id = bootstrap.node().id();
  if (options.workload.empty()) {
    return absl::InvalidArgumentError(
        "identity.certificate_authority: needs node.workload (--workload): the CA issues the "
        "workload's identity");
  }
  return std::optional<IdentityManagerOptions>(std::move(options));
}

IdentityManager::IdentityManager(event::Dispatcher& main, stats::Registry& registry,
                                 IdentityManagerOptions options, Apply apply,
                                 std::function<void()> on_first_certificate)
    : main_(main),
      options_(std::move(options)),
      apply_(std::move(apply)),
      on_first_certificate_(std::move(on_first_certificate)),
      backoff_(std::random_device{}()) {
  const char* help = "Certificate requests to the CA, by result.";
  renewals_ok_ = &registry.counter("skiff_identity_renewals_total", help, {{"result", "success"}});
  renewals_failed_ =
      &registry.counter("skiff_identity_renewals_total", help, {{"result", "failure"}});
  expiry_ = &registry.gauge("skiff_identity_certificate_expiry_timestamp_seconds",
                            "notAfter of the proxy's current certificate (Unix seconds); 0 "
                            "before the first.",
                            {});
  status_.ca_address = options_.config.address();
  event::Dispatcher* loop = &main_;
  client_ = std::make_unique<CertificateClient>(
      options_.config.address(),
      [loop](std::function<void()> work) { loop->post(std::move(work)); },
      options_.request_timeout);
  timer_ = main_.createTimer([this] { attempt(); });
}

IdentityManager::~IdentityManager() {
  // The client first: its thread may be about to post a result.
  client_.reset();
  timer_.reset();
}

void IdentityManager::start() {
  SKIFF_LOG(kInfo, "identity: requesting a certificate for workload %s from %s", options_.workload,
            options_.config.address());
  attempt();
}

void IdentityManager::rotateNow() {
  if (client_->busy()) {
    // The attempt in flight may have started before whatever prompted the rotation (a new
    // token, a new root): one more follows it.
    rotate_after_attempt_ = true;
    return;
  }
  timer_->disable();
  attempt();
}

void IdentityManager::attempt() {
  // One request at a time; the one in flight reschedules when it ends.
  if (client_->busy()) return;
  SignJob job;
  job.workload = options_.workload;
  job.node_id = options_.node_id;
  job.token_file = options_.config.token_file();
  if (options_.config.has_ttl()) job.ttl = std::chrono::seconds(options_.config.ttl().seconds());
  status_.renewing = client_->sign(
      std::move(job), [this](absl::StatusOr<SignResult> result) { onResult(std::move(result)); });
}

void IdentityManager::onResult(absl::StatusOr<SignResult> result) {
  status_.renewing = false;
  absl::Status status = result.ok() ? install(*result) : result.status();
  if (!status.ok()) {
    scheduleRetry(status);
  } else if (rotate_after_attempt_) {
    rotate_after_attempt_ = false;
    timer_->disable();
    attempt();
  }
}

absl::Status IdentityManager::install(const SignResult& result) {
  const auto& response = result.response;
  auto leaf = readLeaf(response.certificate_chain_pem());
  if (!leaf.ok()) {
    return absl::InternalError(absl::StrCat("the CA's reply: ", leaf.status().message()));
  }
  if (leaf->spiffe_uri.empty() || leaf->spiffe_uri != response.identity()) {
    return absl::InternalError(absl::StrCat("the CA's certificate names \"", leaf->spiffe_uri,
                                            "\", its reply \"", response.identity(), "\""));
  }
  if (countCertificates(response.trust_bundle_pem()) == 0) {
    return absl::InternalError("the CA's reply has no trust bundle");
  }
  tls::CertificateBundle bundle;
  bundle.certificate_chain_pem = response.certificate_chain_pem();
  bundle.private_key_pem = result.private_key_pem;
  bundle.trust_bundle_pem = response.trust_bundle_pem();
  bundle.identity = leaf->spiffe_uri;
  bundle.not_after = leaf->not_after;
  bundle.serial_hex = leaf->serial_hex;
  absl::Status applied = apply_(bundle);
  if (!applied.ok()) {
    return absl::InternalError(absl::StrCat("applying the new certificate: ", applied.message()));
  }

  const bool first = !status_.has_certificate;
  const std::string previous_identity = status_.identity;
  status_.has_certificate = true;
  status_.identity = leaf->spiffe_uri;
  status_.serial_hex = leaf->serial_hex;
  status_.not_before = leaf->not_before;
  status_.not_after = leaf->not_after;
  status_.certificate_chain_pem = bundle.certificate_chain_pem;
  status_.trust_bundle_pem = bundle.trust_bundle_pem;
  status_.trust_bundle_subjects = certificateSubjects(bundle.trust_bundle_pem);
  status_.last_error.clear();
  status_.consecutive_failures = 0;
  // The fraction counts from now, not from notBefore: the CA backdates notBefore (clock skew)
  // by more than a short-lived certificate's whole lifetime.
  const SystemTime now = std::chrono::system_clock::now();
  status_.renew_at = renewalTime(std::max(leaf->not_before, now), leaf->not_after,
                                 options_.config.renew_at_fraction());
  last_logged_error_.clear();
  expired_logged_ = false;
  backoff_.reset();
  renewals_ok_->inc();
  expiry_->add(toSeconds(leaf->not_after) - expiry_->value());
  // Never sooner than a second: a certificate that is already past its renewal time (a clock
  // far behind the CA's) must not turn into a request loop.
  timer_->enable(std::max(delayUntil(status_.renew_at, now), kMinRenewalDelay));
  SKIFF_LOG(kInfo, "identity: certificate for %s installed: serial %s, not after %s, renewal at %s",
            status_.identity, status_.serial_hex, formatTime(status_.not_after),
            formatTime(status_.renew_at));
  if (!previous_identity.empty() && previous_identity != status_.identity) {
    SKIFF_LOG(kWarn, "identity: changed from %s to %s", previous_identity, status_.identity);
  }
  if (first && on_first_certificate_) on_first_certificate_();
  return absl::OkStatus();
}

void IdentityManager::scheduleRetry(const absl::Status& error) {
  renewals_failed_->inc();
  status_.last_error = error.ToString();
  ++status_.consecutive_failures;
  const std::chrono::milliseconds delay = backoff_.next();
  // The same error again and again is logged once (and then at debug); a new one always.
  const bool repeat = status_.last_error == last_logged_error_;
  last_logged_error_ = status_.last_error;
  const bool expired =
      status_.has_certificate && std::chrono::system_clock::now() >= status_.not_after;
  std::string validity;
  if (!status_.has_certificate) {
    validity = "no certificate yet: TLS listeners and clusters cannot work and /ready stays 503";
  } else if (expired) {
    validity = absl::StrCat("the certificate EXPIRED at ", formatTime(status_.not_after),
                            ": peers refuse it");
  } else {
    validity =
        absl::StrCat("the current certificate stays in use until ", formatTime(status_.not_after));
  }
  if (expired && !expired_logged_) {
    // Once per expiry, whatever the error: mutual TLS is down for this proxy.
    expired_logged_ = true;
    SKIFF_LOG(kError, "identity: certificate for %s expired at %s and could not be renewed: %s",
              status_.identity, formatTime(status_.not_after), error.ToString());
  }
  if (!repeat && needsOperator(error.code())) {
    SKIFF_LOG(kError,
              "identity: the certificate authority at %s refused workload %s (token file %s): "
              "%s; %s; retrying in %d ms",
              options_.config.address(), options_.workload, options_.config.token_file(),
              error.ToString(), validity, static_cast<int>(delay.count()));
  } else if (!repeat) {
    SKIFF_LOG(kWarn, "identity: certificate request to %s failed: %s; %s; retrying in %d ms",
              options_.config.address(), error.ToString(), validity,
              static_cast<int>(delay.count()));
  } else {
    SKIFF_LOG(kDebug, "identity: certificate request failed again: %s; retrying in %d ms",
              error.ToString(), static_cast<int>(delay.count()));
  }
  if (rotate_after_attempt_) {
    rotate_after_attempt_ = false;
  }
  timer_->enable(delay);
}

}  // namespace skiff::identity
