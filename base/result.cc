#include "base/result.h"

namespace keystep {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kDenied: return "denied";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kReplayed: return "replayed";
    case ErrorCode::kCloned: return "cloned";
    case ErrorCode::kOutOfSync: return "out_of_sync";
    case ErrorCode::kLocked: return "locked";
    case ErrorCode::kExpired: return "expired";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace keystep
