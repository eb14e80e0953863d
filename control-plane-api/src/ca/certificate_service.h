#pragma once

// skiff.ca.v1.CertificateService on skiff-control's gRPC port: checks the workload's token,
// finds the workload in the current mesh, and has the CA sign the proxy's CSR for that
// workload's SPIFFE identity. Without a token directory every request is refused: issuing
// identities to anyone who asks would make them worthless.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "ca/certificate_authority.h"
#include "ca/token_store.h"
#include "skiff/ca/v1/ca.grpc.pb.h"
#include "skiff/mesh/v1/mesh.pb.h"

namespace skiff::ca {

class CertificateService final : public ca::v1::CertificateService::CallbackService {
 public:
  // The mesh as of now (thread-safe; the discovery server's current snapshot).
  using MeshSource = std::function<std::shared_ptr<const mesh::v1::MeshFile>()>;
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // `authority` null or `tokens` empty: every request is refused with FAILED_PRECONDITION.
  CertificateService(std::unique_ptr<CertificateAuthority> authority,
                     std::optional<TokenStore> tokens, MeshSource mesh,
                     Clock clock = std::chrono::system_clock::now);

  // The whole decision, without gRPC (what the handler runs; tests call it directly).
  absl::StatusOr<ca::v1::SignCertificateResponse> sign(
      const ca::v1::SignCertificateRequest& request);

  grpc::ServerUnaryReactor* SignCertificate(grpc::CallbackServerContext* context,
                                            const ca::v1::SignCertificateRequest* request,
                                            ca::v1::SignCertificateResponse* response) override;

  const CertificateAuthority* authority() const { return authority_.get(); }
  uint64_t issued() const { return issued_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<CertificateAuthority> authority_;
  std::optional<TokenStore> tokens_;
  MeshSource mesh_;
  Clock clock_;
  std::atomic<uint64_t> issued_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace skiff::ca
