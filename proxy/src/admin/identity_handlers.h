#pragma once

// Admin pages for the proxy's certificate: GET /certificates (JSON: identity, serial, validity,
// renewal time, the PEM chain and trust bundle, the last error) and POST /rotate_certificate
// (renew now, with a new key; the reply does not wait for the CA).

#include "admin/admin_server.h"
#include "identity/identity_manager.h"

namespace skiff::admin {

// `manager` null: the proxy has no certificate authority identity; the pages say so.
void addIdentityHandlers(AdminServer& admin, identity::IdentityManager* manager);

}  // namespace skiff::admin
