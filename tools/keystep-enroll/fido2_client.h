#pragma once
// The FIDO2 client half of `keystep-enroll fido2`: picks a security key, asks for its PIN
// when it has one, and has it make a credential for the creation options the admin API's
// begin answered, returning the registration response the webauthn provider's
// finish_enrollment takes (PublicKeyCredential.toJSON() as a browser would post it).
// libfido2 does the CTAP2 work; this builds clientDataJSON for the IdP's origin, the
// attestationObject from libfido2's parts (libcbor), and plain messages for what people hit.

#include <fido.h>

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace keystep::enroll {

// Where the keys come from: libfido2's HID enumeration and HID I/O (hid_keys()), or, in
// tests, software keys speaking CTAPHID through their own I/O functions.
struct Fido2Keys {
  // The keys plugged in, as fido_dev_info_manifest reports them: fills at most `max` entries
  // of `list` (from fido_dev_info_new(max)) and sets `found`; a libfido2 status.
  std::function<int(fido_dev_info_t* list, size_t max, size_t* found)> manifest;
  // The I/O functions a key is opened with (fido_dev_set_io_functions: 64-byte reports);
  // nullptr: libfido2's HID. (fido_dev_new_with_info would treat a manifest entry's I/O
  // functions as HID ones, asking the handle for its report lengths, so they go here.)
  const fido_dev_io_t* io = nullptr;
};

// The real keys: libfido2's HID enumeration and I/O.
Fido2Keys hid_keys();

struct Fido2Key {
  std::string path;          // what --device takes, e.g. /dev/hidraw3
  std::string manufacturer;  // e.g. "Yubico"
  std::string product;       // e.g. "YubiKey FIDO+CCID"
};

// The keys plugged in (at most 64). kUnavailable when libfido2 cannot enumerate.
Result<std::vector<Fido2Key>> list_fido2_keys(const Fido2Keys& keys);

// The key a registration uses: `device` (a path of list_fido2_keys), or the only key plugged
// in when `device` is "". kNotFound when none is plugged in or none is at `device`,
// kInvalidArgument for several keys and no `device` (the message lists them), kUnavailable
// when libfido2 cannot enumerate; each message says what to do.
Result<Fido2Key> choose_fido2_key(const Fido2Keys& keys, const std::string& device);

// Asks the operator for the key's PIN; `retries` is how many tries the key has left.
// nullopt when the operator gives none (the registration then stops: kDenied).
using PinPrompt = std::function<std::optional<std::string>(int retries)>;

// The origin clientDataJSON names for an issuer URL (--issuer): scheme://host[:port], the
// port only when the URL names one, e.g. "https://id.example.com/k" -> "https://id.example.com".
// kInvalidArgument for what is not an absolute http(s) URL.
Result<std::string> origin_of(std::string_view issuer);

struct Fido2Request {
  nlohmann::json creation_options;  // PublicKeyCredentialCreationOptionsJSON
  std::string origin;               // the issuer's origin, e.g. "https://id.example.com"
  std::string device;               // --device: a path of list_fido2_keys; "" = the only key
};

// Registers a credential on one key. Checks the options (a base64url challenge and user id,
// ES256 offered, rp.id, when present, the origin's host or a parent domain of it; absent,
// the origin's host) and picks the key: the one plugged in, or `device`. A key with a PIN
// gets it from `prompt`; the PIN never leaves this function. Asks for the touch through
// libfido2 (timeout: the options' timeout, else 60 s). On success returns the response JSON
// text {"id", "rawId", "type": "public-key", "authenticatorAttachment": "cross-platform",
// "clientExtensionResults": {}, "response": {"clientDataJSON", "attestationObject",
// "transports": ["usb"]}} with clientDataJSON {"type": "webauthn.create", "challenge",
// "origin", "crossOrigin": false}.
// Errors, each with a message to show as is:
//   kNotFound         no key plugged in; `device` not among them
//   kInvalidArgument  several keys and no `device` (the message lists them); bad options;
//                     user verification required from a key without a PIN
//   kDenied           wrong PIN (tries left in the message); no PIN given; the key already
//                     holds a credential of this user (excluded)
//   kLocked           PIN blocked (reset the key), or three wrong PINs (replug it)
//   kExpired          nobody touched the key in time
//   kUnavailable      the key could not be opened or answered garbage (permissions: udev)
Result<std::string> fido2_register(const Fido2Keys& keys, const Fido2Request& request,
                                   const PinPrompt& prompt);

}  // namespace keystep::enroll
