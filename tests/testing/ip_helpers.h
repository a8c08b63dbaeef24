// Parsing and printing of addresses and ranges for the IP tests.
#ifndef AUTHD_TESTS_TESTING_IP_HELPERS_H_
#define AUTHD_TESTS_TESTING_IP_HELPERS_H_

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string_view>

#include "common/cidr.h"

namespace authd {

// Readable gtest failure output (found by argument-dependent lookup).
inline void PrintTo(const IpAddress& address, std::ostream* os) {
  *os << address.ToString();
}
inline void PrintTo(const Cidr& cidr, std::ostream* os) {
  *os << cidr.ToString();
}

namespace testing {

// An address the test knows is valid; a test failure otherwise.
inline IpAddress Addr(std::string_view text) {
  std::optional<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

// A range the test knows is valid; a test failure otherwise.
inline Cidr MustParse(std::string_view text) {
  StatusOr<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << text << ": " << cidr.status().message();
  return cidr.ok() ? *cidr : *Cidr::Parse("::/128");
}

}  // namespace testing
}  // namespace authd

#endif  // AUTHD_TESTS_TESTING_IP_HELPERS_H_
