#include "providers/webauthn/rp_id.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace keystep::webauthn {
namespace {

TEST(RpId, TheOriginsHostOrAParentDomainIsValid) {
  EXPECT_TRUE(check_rp_id("id.example.com", "https://id.example.com"));
  EXPECT_TRUE(check_rp_id("id.example.com", "https://id.example.com:8443"));
  EXPECT_TRUE(check_rp_id("example.com", "https://id.example.com"));
  EXPECT_TRUE(check_rp_id("example.com", "https://a.b.example.com"));
  EXPECT_TRUE(check_rp_id("localhost", "http://localhost:8080"));
  EXPECT_TRUE(check_rp_id("127.0.0.1", "http://127.0.0.1:8080"));
}

TEST(RpId, OtherDomainsSuffixesAndAddressesAreRefused) {
  for (const auto& [rp_id, origin] : std::vector<std::pair<const char*, const char*>>{
           {"com", "https://id.example.com"},          // a top-level domain
           {"ample.com", "https://id.example.com"},    // not at a label boundary
           {"example.org", "https://id.example.com"},  // another domain
           {"id.example.com", "https://example.com"},  // a child, not a parent
           {".example.com", "https://id.example.com"},
           {"EXAMPLE.com", "https://id.example.com"},  // rp ids are lower-case
           {"0.0.1", "http://127.0.0.1"},              // a part of an address
           {"", "https://id.example.com"},
           {"example.com", "https://id.example.com/path"},  // not an origin
           {"example.com", "id.example.com"}}) {
    Status s = check_rp_id(rp_id, origin);
    ASSERT_FALSE(s) << rp_id << " for " << origin;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(check_rp_id("example.org", "https://id.example.com").error().message,
            "the WebAuthn rp id example.org is neither the host of https://id.example.com nor "
            "a domain it belongs to (e.g. example.com for id.example.com)");
}

}  // namespace
}  // namespace keystep::webauthn
