#include "api/connection_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace authd::api {
namespace {

using Clock = ConnectionTable::Clock;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

TEST(ConnectionTableTest, CountsAnIpv6ClientByItsSlash64) {
  ConnectionTable t(2);
  Clock::time_point later = Clock::now() + std::chrono::hours(1);
  t.Opened(10, Ip("2001:db8:1:2::1"), later);
  EXPECT_TRUE(t.HasRoom(Ip("2001:db8:1:2::ffff")));
  t.Opened(11, Ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), later);
  // A fresh address in the same /64 is the same client...
  EXPECT_FALSE(t.HasRoom(Ip("2001:db8:1:2::9")));
  EXPECT_EQ(t.Connections(Ip("2001:db8:1:2::9")), 2u);
  // ...one in the next /64 is not.
  EXPECT_TRUE(t.HasRoom(Ip("2001:db8:1:3::1")));
  t.Closed(10);
  EXPECT_TRUE(t.HasRoom(Ip("2001:db8:1:2::9")));
  t.Closed(11);
  EXPECT_EQ(t.Connections(Ip("2001:db8:1:2::9")), 0u);
}

TEST(ConnectionTableTest, OpenedSaysWhenAConnectionIsOneTooMany) {
  // Two threads may both pass HasRoom() for the last slot; Opened() is the
  // exact check, made under the lock.
  ConnectionTable t(2);
  Clock::time_point later = Clock::now() + std::chrono::hours(1);
  EXPECT_TRUE(t.Opened(20, Ip("192.0.2.7"), later));
  EXPECT_TRUE(t.Opened(21, Ip("192.0.2.7"), later));
  EXPECT_FALSE(t.Opened(22, Ip("192.0.2.7"), later));
  EXPECT_TRUE(t.Opened(23, Ip("192.0.2.8"), later));
  t.Closed(22);  // shut down by the transport, then closed by MHD
  EXPECT_EQ(t.Connections(Ip("192.0.2.7")), 2u);
  t.Closed(20);
  EXPECT_TRUE(t.Opened(24, Ip("192.0.2.7"), later));
}

TEST(ConnectionTableTest, CountsAnIpv4ClientByItsExactAddress) {
  ConnectionTable t(1);
  Clock::time_point later = Clock::now() + std::chrono::hours(1);
  t.Opened(3, Ip("192.0.2.1"), later);
  EXPECT_FALSE(t.HasRoom(Ip("192.0.2.1")));
  EXPECT_FALSE(t.HasRoom(Ip("::ffff:192.0.2.1")));  // the same address
  EXPECT_TRUE(t.HasRoom(Ip("192.0.2.2")));
  t.Closed(3);
  t.Closed(3);  // a second close is harmless
  EXPECT_TRUE(t.HasRoom(Ip("192.0.2.1")));
  EXPECT_EQ(t.Connections(Ip("192.0.2.1")), 0u);
}

TEST(ConnectionTableTest, ExpiresOnlyArmedConnectionsPastTheirDeadline) {
  ConnectionTable t(10);
  Clock::time_point now = Clock::now();
  t.Opened(5, Ip("192.0.2.1"), now + std::chrono::seconds(10));
  t.Opened(6, Ip("192.0.2.1"), now + std::chrono::seconds(10));
  t.Opened(7, Ip("192.0.2.1"), now + std::chrono::seconds(10));
  t.Disarm(6);  // its request is in: no deadline while it is answered
  t.Arm(7, now + std::chrono::seconds(30));
  std::vector<int> shut;
  auto record = [&](int fd) { shut.push_back(fd); };
  t.Expire(now + std::chrono::seconds(5), record);
  EXPECT_TRUE(shut.empty());
  t.Expire(now + std::chrono::seconds(11), record);
  EXPECT_EQ(shut, std::vector<int>{5});
  t.Expire(now + std::chrono::seconds(12), record);  // once only
  EXPECT_EQ(shut, std::vector<int>{5});
  t.Expire(now + std::chrono::seconds(31), record);
  EXPECT_EQ(shut, (std::vector<int>{5, 7}));
  t.Closed(7);
  t.Arm(7, now);  // a closed descriptor is not re-armed
  t.Expire(now + std::chrono::seconds(60), record);
  EXPECT_EQ(shut, (std::vector<int>{5, 7}));
}

}  // namespace
}  // namespace authd::api
