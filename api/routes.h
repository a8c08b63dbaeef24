// The route table of authd's HTTP API: every endpoint, the methods it takes,
// its metrics label, its guard and its handler, in one place. SPEC "HTTP API"
// and docs/api.md describe the same table for people.
#ifndef AUTHD_API_ROUTES_H_
#define AUTHD_API_ROUTES_H_

#include <vector>

#include "api/admin_handler.h"
#include "api/audit_handler.h"
#include "api/check_handler.h"
#include "api/console_handler.h"
#include "api/discovery_handler.h"
#include "api/ops_handler.h"
#include "api/router.h"
#include "api/token_handler.h"

namespace authd::api {

struct Handlers {
  const TokenHandler* token;
  const CheckHandler* check;
  const DiscoveryHandler* discovery;
  const OpsHandler* ops;
  const AdminHandler* admin;
  const AuditHandler* audit;
  const ConsoleHandler* console;  // null: no console and no sign-in links
};

// The handlers must outlive the routes.
std::vector<Route> AuthdRoutes(const Handlers& h);

}  // namespace authd::api

#endif  // AUTHD_API_ROUTES_H_
