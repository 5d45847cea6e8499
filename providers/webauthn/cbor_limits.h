#pragma once
// A bound on what libcbor is asked to load. libcbor 0.8's cbor_load allocates a container's
// declared size before it reads the members, so a few bytes declaring a map of 2^31 pairs make
// it allocate tens of gigabytes (found by tests/fuzz/webauthn_fuzz.cc); libfido2 loads the
// COSE key and extension outputs of authenticator data with cbor_load too. Every untrusted
// CBOR goes through safe_cbor_item_size first. Stateless and thread-safe.

#include <cstddef>
#include <optional>
#include <string_view>

namespace keystep::webauthn {

// Containers may nest this deep (a COSE key or an attestation statement needs 3).
inline constexpr size_t kMaxCborDepth = 8;

// The size in bytes of the first CBOR item of `bytes` when libcbor may load it safely:
// well-formed (libcbor's streaming decoder reads it without allocating), definite lengths
// only, at most kMaxCborDepth nested containers, and no container declaring more members
// than bytes remain. nullopt otherwise.
std::optional<size_t> safe_cbor_item_size(std::string_view bytes);

}  // namespace keystep::webauthn
