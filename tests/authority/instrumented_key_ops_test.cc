// InstrumentedKeyOps: HSM failures and HSM back-pressure are counted apart,
// so that a busy session pool never looks like a failing HSM on a dashboard.
#include "authority/instrumented_key_ops.h"

#include <gtest/gtest.h>

#include <string>

#include "hsm/forwarding_key_ops.h"
#include "testing/softhsm_token.h"

namespace authd::authority {
namespace {

// Answers SignEs256 with `next` while it is set, else signs for real.
class ScriptedKeyOps final : public hsm::ForwardingKeyOps {
 public:
  ScriptedKeyOps() : ForwardingKeyOps(&testing::SoftHsmToken::Keys()) {}
  StatusOr<std::string> SignEs256(hsm::KeyUse use,
                                  std::string_view data) const override {
    if (!next.ok()) return next;
    return inner_->SignEs256(use, data);
  }
  Status next = Status::Ok();
};

// The value of the series line that starts with `series` ("name{labels}").
std::string Sample(const Metrics& m, const std::string& series) {
  std::string page = m.Render({}, "test");
  size_t at = page.find("\n" + series + " ");
  if (at == std::string::npos) return "absent";
  size_t start = at + series.size() + 2;
  return page.substr(start, page.find('\n', start) - start);
}

TEST(InstrumentedKeyOpsTest, BusyIsCountedApartFromHsmErrors) {
  Metrics metrics;
  ScriptedKeyOps inner;
  InstrumentedKeyOps keys(&inner, &metrics);
  const std::string errors = "authd_hsm_errors_total{op=\"sign\"}";
  const std::string busy = "authd_hsm_busy_total{op=\"sign\"}";
  const std::string timed =
      "authd_hsm_operation_duration_seconds_count{op=\"sign\"}";

  ASSERT_TRUE(keys.SignEs256(hsm::KeyUse::kToken, "ok").ok());
  EXPECT_EQ(Sample(metrics, timed), "1");

  inner.next = Status::Busy("every HSM session stayed in use for 5 ms");
  EXPECT_EQ(keys.SignEs256(hsm::KeyUse::kToken, "x").status().code(),
            StatusCode::kBusy);
  EXPECT_EQ(Sample(metrics, busy), "1");
  EXPECT_EQ(Sample(metrics, errors), "0");
  EXPECT_EQ(Sample(metrics, timed), "1");  // no HSM operation took place

  inner.next = Status::Unavailable("HSM C_Sign failed: CKR_DEVICE_ERROR");
  EXPECT_FALSE(keys.SignEs256(hsm::KeyUse::kToken, "x").ok());
  EXPECT_EQ(Sample(metrics, busy), "1");
  EXPECT_EQ(Sample(metrics, errors), "1");
  EXPECT_EQ(Sample(metrics, timed), "2");
}

TEST(InstrumentedKeyOpsTest, StuckAndAbandonedCallsAreRendered) {
  Metrics metrics;
  Metrics::Gauges g;
  g.hsm_calls_stuck = 2;
  g.hsm_calls_abandoned = 7;
  std::string page = metrics.Render(g, "test");
  EXPECT_NE(page.find("\nauthd_hsm_calls_stuck 2\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE authd_hsm_calls_abandoned_total counter\n"
                      "authd_hsm_calls_abandoned_total 7\n"),
            std::string::npos)
      << page;
}

}  // namespace
}  // namespace authd::authority
