#include "admin/identity_handlers.h"

#include <fstream>
#include <sstream>

#include "absl/time/time.h"
#include "admin/config_dump.h"
#include "google/protobuf/struct.pb.h"
#include "identity/certificate_info.h"

namespace skiff::admin {
namespace {

google::protobuf::Value text(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

google::protobuf::Value time(identity::SystemTime t) {
  return text(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromChrono(t), absl::UTCTimeZone()));
}

std::string render(const identity::IdentityStatus& status) {
  google::protobuf::Struct root;
  auto& fields = *root.mutable_fields();
  fields["source"] = text("certificate_authority");
  fields["ca_address"] = text(status.ca_address);
  fields["ready"].set_bool_value(status.has_certificate);
  fields["renewing"].set_bool_value(status.renewing);
  fields["consecutive_failures"].set_number_value(status.consecutive_failures);
  fields["last_error"] = text(status.last_error);
  if (status.has_certificate) {
    fields["identity"] = text(status.identity);
    fields["serial"] = text(status.serial_hex);
    fields["not_before"] = time(status.not_before);
    fields["not_after"] = time(status.not_after);
    fields["renew_at"] = time(status.renew_at);
    fields["certificate_chain_pem"] = text(status.certificate_chain_pem);
    fields["trust_bundle_pem"] = text(status.trust_bundle_pem);
    auto* subjects = fields["trust_bundle_subjects"].mutable_list_value();
    for (const auto& subject : status.trust_bundle_subjects)
      *subjects->add_values() = text(subject);
  }
  return toJson(root) + "\n";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string renderStatic(const config::v1::StaticCertificate& files) {
  google::protobuf::Struct root;
  auto& fields = *root.mutable_fields();
  fields["source"] = text("static_certificate");
  fields["certificate_chain_file"] = text(files.certificate_chain_file());
  fields["trust_bundle_file"] = text(files.trust_bundle_file());
  const std::string chain = readFile(files.certificate_chain_file());
  const std::string bundle = readFile(files.trust_bundle_file());
  auto leaf = identity::readLeaf(chain);
  fields["ready"].set_bool_value(leaf.ok());
  if (leaf.ok()) {
    fields["identity"] = text(leaf->spiffe_uri);
    fields["serial"] = text(leaf->serial_hex);
    fields["not_before"] = time(leaf->not_before);
    fields["not_after"] = time(leaf->not_after);
    fields["certificate_chain_pem"] = text(chain);
    fields["trust_bundle_pem"] = text(bundle);
    auto* subjects = fields["trust_bundle_subjects"].mutable_list_value();
    for (const auto& subject : identity::certificateSubjects(bundle)) {
      *subjects->add_values() = text(subject);
    }
  } else {
    fields["last_error"] = text(leaf.status().ToString());
  }
  return toJson(root) + "\n";
}

}  // namespace

void addIdentityHandlers(AdminServer& admin, identity::IdentityManager* manager,
                         const config::v1::Identity& static_identity) {
  admin.addHandler("GET", "/certificates", [manager, static_identity](const http::RequestHead&) {
    if (manager == nullptr && static_identity.has_static_certificate()) {
      return AdminResponse{200, "application/json",
                           renderStatic(static_identity.static_certificate())};
    }
    if (manager == nullptr) {
      return AdminResponse{200, "application/json",
                           "{\n \"source\": \"none\",\n \"note\": \"no "
                           "identity.certificate_authority in the bootstrap\"\n}\n"};
    }
    return AdminResponse{200, "application/json", render(manager->status())};
  });
  admin.addHandler("POST", "/rotate_certificate", [manager](const http::RequestHead&) {
    if (manager == nullptr) {
      return AdminResponse{409, "text/plain",
                           "no identity.certificate_authority: nothing to rotate\n"};
    }
    manager->rotateNow();
    return AdminResponse{202, "text/plain",
                         "renewing: a new key and certificate (see GET /certificates)\n"};
  });
}

}  // namespace skiff::admin
