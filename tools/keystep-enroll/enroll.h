#pragma once
// Enrolling one YubiKey for one member: program -> touch -> confirm, with the server holding
// the credential pending until the key has typed a code it accepts, and the dry run that
// shows what would be written.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/result.h"
#include "tools/keystep-enroll/admin_client.h"
#include "tools/keystep-enroll/device.h"
#include "tools/keystep-enroll/hotp_slot.h"

namespace keystep::enroll {

// The person at the keyboard. The command line reads standard input (where a touched key
// types, like a keyboard); tests answer in code.
class Operator {
 public:
  enum class Ask { kInsertKey, kTouchKey };
  virtual ~Operator() = default;
  // Shows one line of progress.
  virtual void say(const std::string& line) = 0;
  // Shows `prompt` and returns the line entered, without its line end. kUnavailable when
  // the input has ended (the operator stopped).
  virtual Result<std::string> ask(Ask what, const std::string& prompt) = 0;
};

struct KeyOptions {
  int slot = 2;
  int digits = 6;
  bool token_id = true;                   // the key types "ubhe" + its serial before each code
  bool force = false;                     // overwrite a programmed slot
  std::string label;                      // empty: "YubiKey SERIAL"
  std::optional<AccessCode> access_code;  // protects the new slot and unlocks the old one
};

struct EnrolledKey {
  int64_t credential = 0;
  std::optional<uint32_t> serial;
  std::optional<std::string> token_id;
};

// The refusals that need no server: a programmed slot without `force`, a token identifier
// from a key that hides its serial. kConflict / kInvalidArgument with what to do.
Status check_key(const DeviceStatus& status, const KeyOptions& options);

// Enrolls the key in `device` for the member `member`:
//  1. check_key() on its status;
//  2. begins a pending credential (the server draws the secret and sends it once);
//  3. calls `on_pending` with its id (the batch journal records it);
//  4. programs the slot with the secret, then wipes it;
//  5. asks the operator to touch the key and confirms with what it typed (three tries).
// On success the credential is confirmed. On failure after step 2 the pending credential is
// removed again, so the server never keeps a key that was not proven programmed; the error
// says what happened to the key (untouched, or programmed and not registered).
Result<EnrolledKey> enroll_key(YubiKeyDevice& device, AdminClient& api, Operator& op,
                               int64_t member, const KeyOptions& options,
                               const std::function<Status(int64_t)>& on_pending = {});

// The dry run's report for enrolling `email`: the libykpers configuration that would be
// written (with `status` of the key plugged in, or an assumed firmware 5.4.3 and serial 0
// when none is) and the equivalent ykman and ykpersonalize commands. Needs no server and
// writes nothing.
Result<std::string> dry_run_report(const std::string& email, const KeyOptions& options,
                                   const std::optional<DeviceStatus>& status);

}  // namespace keystep::enroll
