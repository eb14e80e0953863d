#include "admin/identity_handlers.h"

#include "absl/time/time.h"
#include "admin/config_dump.h"
#include "google/protobuf/struct.pb.h"

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
    for (const auto& subject : status.trust_bundle_subjects) *subjects->add_values() = text(subject);
  }
  return toJson(root) + "\n";
}

}  // namespace

void addIdentityHandlers(AdminServer& admin, identity::IdentityManager* manager) {
  admin.addHandler("GET", "/certificates", [manager](const http::RequestHead&) {
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
