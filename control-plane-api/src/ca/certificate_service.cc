#include "ca/certificate_service.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ca/workload_identity.h"
#include "common/logging.h"

namespace skiff::ca {
namespace {

grpc::Status toGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string formatTime(std::chrono::system_clock::time_point t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(t), absl::UTCTimeZone());
}

}  // namespace

CertificateService::CertificateService(std::unique_ptr<CertificateAuthority> authority,
                                       std::optional<TokenStore> tokens, MeshSource mesh,
                                       Clock clock)
    : authority_(std::move(authority)),
      tokens_(std::move(tokens)),
      mesh_(std::move(mesh)),
      clock_(std::move(clock)) {}

absl::StatusOr<ca::v1::SignCertificateResponse> CertificateService::sign(
    const ca::v1::SignCertificateRequest& request) {
  if (!authority_) {
    return absl::FailedPreconditionError(
        "skiff-control was started without --ca-dir or --ca-cert: it issues no certificates");
  }
  if (!tokens_) {
    return absl::FailedPreconditionError(
        "skiff-control was started without --token-dir: it issues no certificates");
  }
  absl::Status status = tokens_->check(request.workload(), request.token());
  if (!status.ok()) return status;
  std::shared_ptr<const mesh::v1::MeshFile> mesh = mesh_();
  auto identity = workloadSpiffeId(*mesh, request.workload());
  if (!identity.ok()) {
    if (absl::IsNotFound(identity.status())) {
      return absl::PermissionDeniedError(identity.status().message());
    }
    return identity.status();
  }
  std::chrono::seconds ttl = kDefaultCertificateTtl;
  if (request.has_ttl()) ttl = std::chrono::seconds(request.ttl().seconds());
  auto signed_cert = authority_->sign(request.csr_pem(), *identity, ttl, clock_());
  if (!signed_cert.ok()) return signed_cert.status();

  ca::v1::SignCertificateResponse response;
  response.set_certificate_chain_pem(signed_cert->certificate_chain_pem);
  response.set_trust_bundle_pem(signed_cert->trust_bundle_pem);
  response.set_identity(*identity);
  response.mutable_not_after()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(signed_cert->not_after.time_since_epoch())
          .count());
  SKIFF_LOG(kInfo, "ca: issued %s to node %s (workload %s): serial %s, not after %s", *identity,
            absl::CHexEscape(request.node_id()), request.workload(), signed_cert->serial_hex,
            formatTime(signed_cert->not_after));
  return response;
}

grpc::ServerUnaryReactor* CertificateService::SignCertificate(
    grpc::CallbackServerContext* context, const ca::v1::SignCertificateRequest* request,
    ca::v1::SignCertificateResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // A CSR check and one ECDSA signature (about 3 ms on a heavily loaded core, less than that
  // otherwise; docs/identity.md): done inline, no thread hop.
  auto result = sign(*request);
  if (!result.ok()) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    // Escaped: the names come from a caller that has not proven anything yet.
    SKIFF_LOG(kWarn, "ca: refused node %s (workload %s) from %s: %s",
              absl::CHexEscape(request->node_id()), absl::CHexEscape(request->workload()),
              context->peer(), absl::CHexEscape(result.status().message()));
    reactor->Finish(toGrpc(result.status()));
    return reactor;
  }
  issued_.fetch_add(1, std::memory_order_relaxed);
  *response = *std::move(result);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace skiff::ca
