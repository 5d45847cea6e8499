#include "base/crypto/ossl.h"

#include <openssl/err.h>

#include <string>

namespace keystep::ossl {

Error error(ErrorCode code, std::string_view context) {
  std::string message(context);
  if (unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    message += ": ";
    message += buf;
  }
  ERR_clear_error();
  return make_error(code, std::move(message));
}

}  // namespace keystep::ossl
