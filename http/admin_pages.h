#pragma once
// The admin page Account setup > Authentication and its screens (idp/admin/admin_console.h), as
// server-rendered HTML: every value escaped, every form a POST carrying the session's CSRF
// token, no JavaScript needed.

#include <string>

#include "idp/admin/admin_console.h"

namespace keystep::http {

std::string render_authentication_page(const AuthenticationView& view);

}  // namespace keystep::http
