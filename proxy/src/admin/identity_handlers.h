#pragma once

// Admin pages for the proxy's certificate: GET /certificates (JSON: identity, serial, validity,
// renewal time, the PEM chain and trust bundle, the last error) and POST /rotate_certificate
// (renew now, with a new key; the reply does not wait for the CA).

#include "admin/admin_server.h"
#include "identity/identity_manager.h"
#include "skiff/config/v1/tls.pb.h"

namespace skiff::admin {

// `manager` null: the proxy has no certificate authority identity; GET /certificates then
// shows `static_identity`'s files (what they hold now: they are loaded once, at start), or says
// there is no identity.
void addIdentityHandlers(AdminServer& admin, identity::IdentityManager* manager,
                         const config::v1::Identity& static_identity);

}  // namespace skiff::admin
