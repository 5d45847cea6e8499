#include <gtest/gtest.h>

#include "http/server.h"

namespace keystep::http {
namespace {

const std::vector<std::string> kProxies = {"10.0.0.2", "10.0.0.3"};

TEST(ClientAddress, IsThePeerWhenThePeerIsNoTrustedProxy) {
  EXPECT_EQ(client_address("203.0.113.9", "198.51.100.1", kProxies), "203.0.113.9");
  EXPECT_EQ(client_address("203.0.113.9", std::nullopt, kProxies), "203.0.113.9");
}

TEST(ClientAddress, BehindATrustedProxyIsTheNearestUntrustedHop) {
  EXPECT_EQ(client_address("10.0.0.2", "198.51.100.1", kProxies), "198.51.100.1");
  // A client may put anything first; only hops added by trusted proxies are believed.
  EXPECT_EQ(client_address("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.3", kProxies),
            "198.51.100.1");
}

TEST(ClientAddress, TrustedProxyWithoutOrWithBadHeaderStaysThePeer) {
  EXPECT_EQ(client_address("10.0.0.2", std::nullopt, kProxies), "10.0.0.2");
  EXPECT_EQ(client_address("10.0.0.2", "198.51.100.1, ", kProxies), "10.0.0.2");
  EXPECT_EQ(client_address("10.0.0.2", std::string(100, 'x'), kProxies), "10.0.0.2");
}

TEST(ClientAddress, NoTrustedProxiesMeansTheHeaderIsIgnored) {
  EXPECT_EQ(client_address("127.0.0.1", "198.51.100.1", {}), "127.0.0.1");
}

}  // namespace
}  // namespace keystep::http
