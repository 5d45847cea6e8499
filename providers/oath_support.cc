#include "providers/oath_support.h"

#include <liboath/oath.h>

#include <mutex>
#include <string>

#include "base/crypto/hash.h"

namespace keystep {

int oath_ready() {
  static std::once_flag once;
  static int rc = OATH_OK;
  std::call_once(once, [] { rc = oath_init(); });
  return rc;
}

Error oath_error(int rc) {
  return make_error(ErrorCode::kInternal, std::string("liboath: ") + oath_strerror(rc));
}

int oath_compare_code(void* handle, const char* candidate) {
  const auto* expected = static_cast<const ExpectedCode*>(handle);
  return constant_time_equal(expected->code, std::string_view(candidate, expected->code.size()))
             ? 0
             : 1;
}

}  // namespace keystep
