// Drives the certificate service's whole decision (CertificateService::sign: token check,
// workload lookup, CSR parsing and verification, signing) with a fuzzed workload name, token,
// lifetime and CSR, against a fixed CA, token directory and mesh. Checks: a certificate is
// issued only for a workload of the mesh whose token matches; the leaf carries exactly one name,
// the URI SAN of that workload's identity, with an empty subject; it is not a CA, holds the
// CSR's key, verifies under the CA and lives within [kMinCertificateTtl, maxTtl]; a refusal is
// the caller's fault (never INTERNAL or UNKNOWN).
//
// Input layout (see tests/fuzz/corpus/ca): "WORKLOAD\nTOKEN\nTTL_SECONDS\n" then the CSR: PEM
// text when it starts with "-----", else DER bytes (wrapped into PEM here, so OpenSSL's DER
// decoder sees them directly). An empty TTL line sends no ttl.

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "ca/certificate_authority.h"
#include "ca/certificate_service.h"
#include "ca/openssl_util.h"
#include "common/logging.h"
#include "fuzz_check.h"

namespace skiff::ca {
namespace {

// Token files as written, and the identity each workload of the mesh must receive.
const std::map<std::string, std::string> kTokenFiles = {
    {"cart-v1", "s3cret-cart\n"}, {"web-v1", "  web token \n"}, {"empty", "\n"}, {"odd", "odd"}};
const std::map<std::string, std::string> kIdentities = {
    {"cart-v1", "spiffe://mesh.test/ns/shop/sa/cart"},
    {"web-v1", "spiffe://mesh.test/ns/default/sa/web-sa"},
    {"empty", "spiffe://mesh.test/ns/default/sa/web"}};

mesh::v1::MeshFile fixedMesh() {
  mesh::v1::MeshFile mesh;
  mesh.mutable_settings()->set_trust_domain("mesh.test");
  auto* cart = mesh.add_services();
  cart->set_name("cart");
  cart->set_namespace_("shop");
  mesh.add_services()->set_name("web");
  auto add = [&mesh](const char* name, const char* service, const char* account) {
    auto* workload = mesh.add_workloads();
    workload->set_name(name);
    workload->set_service(service);
    workload->set_service_account(account);
  };
  add("cart-v1", "cart", "");
  add("web-v1", "web", "web-sa");
  add("empty", "web", "");
  add("odd", "web", "not/a/segment");  // the loader would refuse it; the service must too
  return mesh;
}

struct Fixture {
  Fixture() {
    log::setLevel(log::Level::kOff);
    char dir_template[] = "/tmp/skiff-ca-fuzz-XXXXXX";
    dir = mkdtemp(dir_template);
    std::filesystem::create_directories(dir + "/tokens");
    for (const auto& [workload, content] : kTokenFiles) {
      std::ofstream(dir + "/tokens/" + workload) << content;
    }
    bool generated = false;
    auto authority = CertificateAuthority::fromDirectory(dir + "/ca", &generated);
    FUZZ_CHECK(authority.ok());
    ca_cert = std::move(parseCertificates((*authority)->trustBundlePem()).value()[0]);
    max_ttl = (*authority)->maxTtl();
    trust_bundle = (*authority)->trustBundlePem();
    auto mesh = std::make_shared<const mesh::v1::MeshFile>(fixedMesh());
    service = std::make_unique<CertificateService>(
        std::move(*authority), TokenStore(dir + "/tokens"), [mesh] { return mesh; },
        [this] { return now; });
  }
  std::string dir;
  OsslPtr<X509> ca_cert;
  std::chrono::seconds max_ttl;
  std::string trust_bundle;
  // Whole seconds, as certificates state time.
  std::chrono::system_clock::time_point now = std::chrono::system_clock::from_time_t(
      std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()));
  std::unique_ptr<CertificateService> service;
};

std::string derToPem(absl::string_view der) {
  std::string base64 = absl::Base64Escape(der);
  std::string pem = "-----BEGIN CERTIFICATE REQUEST-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) pem += base64.substr(i, 64) + "\n";
  return pem + "-----END CERTIFICATE REQUEST-----\n";
}

bool tokenMatches(const std::string& workload, const std::string& token) {
  auto it = kTokenFiles.find(workload);
  if (it == kTokenFiles.end()) return false;
  absl::string_view expected = absl::StripAsciiWhitespace(it->second);
  return !expected.empty() && expected == absl::StripAsciiWhitespace(token);
}

void checkIssued(const Fixture& fixture, const ca::v1::SignCertificateRequest& request,
                 const ca::v1::SignCertificateResponse& response) {
  FUZZ_CHECK(tokenMatches(request.workload(), request.token()));
  auto identity = kIdentities.find(request.workload());
  FUZZ_CHECK(identity != kIdentities.end() && response.identity() == identity->second);
  FUZZ_CHECK(response.trust_bundle_pem() == fixture.trust_bundle);

  auto chain = parseCertificates(response.certificate_chain_pem());
  FUZZ_CHECK(chain.ok());
  X509* leaf = (*chain)[0].get();
  FUZZ_CHECK(X509_NAME_entry_count(X509_get_subject_name(leaf)) == 0);
  FUZZ_CHECK(X509_check_ca(leaf) == 0);
  FUZZ_CHECK(X509_verify(leaf, X509_get0_pubkey(fixture.ca_cert.get())) == 1);

  OsslPtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr)));
  FUZZ_CHECK(names != nullptr && sk_GENERAL_NAME_num(names.get()) == 1);
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), 0);
  FUZZ_CHECK(name->type == GEN_URI);
  const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
  FUZZ_CHECK(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                         ASN1_STRING_length(uri)) == response.identity());

  OsslPtr<BIO> bio(
      BIO_new_mem_buf(request.csr_pem().data(), static_cast<int>(request.csr_pem().size())));
  OsslPtr<X509_REQ> csr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  FUZZ_CHECK(csr != nullptr);
  FUZZ_CHECK(EVP_PKEY_eq(X509_get0_pubkey(leaf), X509_REQ_get0_pubkey(csr.get())) == 1);

  const auto not_after = toTimePoint(X509_get0_notAfter(leaf));
  FUZZ_CHECK(not_after - fixture.now >= kMinCertificateTtl);
  FUZZ_CHECK(not_after - fixture.now <= fixture.max_ttl);
  FUZZ_CHECK(response.not_after().seconds() == std::chrono::system_clock::to_time_t(not_after));
}

}  // namespace
}  // namespace skiff::ca

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff::ca;
  static Fixture* fixture = new Fixture;  // leaked on purpose: lives as long as the process
  static const bool cleanup = [] {
    atexit([] { std::filesystem::remove_all(fixture->dir); });
    return true;
  }();
  (void)cleanup;

  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts = absl::StrSplit(input, absl::MaxSplits('\n', 3));
  parts.resize(4);
  skiff::ca::v1::SignCertificateRequest request;
  request.set_workload(parts[0]);
  request.set_token(parts[1]);
  int64_t ttl = 0;
  if (absl::SimpleAtoi(parts[2], &ttl)) request.mutable_ttl()->set_seconds(ttl);
  request.set_csr_pem(parts[3].rfind("-----", 0) == 0 ? parts[3] : derToPem(parts[3]));
  request.set_node_id("fuzz-0");

  absl::StatusOr<skiff::ca::v1::SignCertificateResponse> response = fixture->service->sign(request);
  if (response.ok()) {
    checkIssued(*fixture, request, *response);
  } else {
    const absl::StatusCode code = response.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
               code == absl::StatusCode::kUnauthenticated ||
               code == absl::StatusCode::kPermissionDenied ||
               code == absl::StatusCode::kFailedPrecondition);
  }
  return 0;
}
