// Pkcs11KeyOps over libauthd_fault_pkcs11.so (tests/testing/fault_pkcs11),
// which forwards to SoftHSM2 and fails the calls its plan file names. Loaded
// by path, through the same Module::Load as a production module.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hsm/pkcs11_key_ops.h"
#include "testing/softhsm_token.h"

namespace authd::hsm {
namespace {

using authd::testing::SoftHsmToken;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Polls `cond` until it holds or `limit` passes; true if it held. The test
// goes on as soon as the state it needs can be seen, not after a fixed time.
bool Eventually(const std::function<bool()>& cond,
                milliseconds limit = seconds(10)) {
  auto deadline = SteadyClock::now() + limit;
  while (!cond()) {
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));  // poll interval
  }
  return true;
}

// <dir of this binary>/../lib/libauthd_fault_pkcs11.so, as the build lays it
// out.
std::string FaultModulePath() {
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe");
  return (exe.parent_path().parent_path() / "lib" / "libauthd_fault_pkcs11.so")
      .string();
}

// Each test gets its own Pkcs11KeyOps, so one left broken by a fault cannot
// fail the tests after it.
class FaultModuleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SoftHsmToken::Get();  // sets SOFTHSM2_CONF for the real module
    std::string dir = authd::testing::MakeTempDir("authd-fault-");
    control_ = new std::string(dir + "/plan");
    stats_ = new std::string(dir + "/stats");
    // Read by the module when it is loaded, so set before any Create.
    setenv("AUTHD_FAULT_CONTROL", control_->c_str(), 1);
    setenv("AUTHD_FAULT_STATS", stats_->c_str(), 1);
  }

  void SetUp() override {
    ClearPlan();
    auto ops = Pkcs11KeyOps::Create(Options());
    ASSERT_TRUE(ops.ok()) << ops.status().message();
    ops_ = std::move(ops).value();
  }
  void TearDown() override {
    ClearPlan();
    ops_.reset();
  }

  static HsmOptions Options() {
    const SoftHsmToken& token = SoftHsmToken::Get();
    return {FaultModulePath(), token.uri(), SecureString(token.pin), 4};
  }

  // Replaces the plan atomically, so the module never reads half of it.
  static void WritePlan(const std::string& text) {
    std::string tmp = *control_ + ".tmp";
    std::ofstream(tmp) << text;
    ASSERT_EQ(rename(tmp.c_str(), control_->c_str()), 0);
  }
  static void ClearPlan() { std::filesystem::remove(*control_); }

  static std::map<std::string, unsigned long> Stats() {
    std::map<std::string, unsigned long> out;
    std::ifstream in(*stats_);
    std::string name;
    unsigned long n;
    while (in >> name >> n) out[name] = n;
    return out;
  }
  static unsigned long Calls(const std::string& fn) { return Stats()[fn]; }

  // After a fault the supervisor recovers in the background; true once the
  // key ops are ready again (within 10 s).
  bool WaitReady() {
    return Eventually([&] { return ops_->Ready(); });
  }

  bool SignsAndVerifies(const std::string& data) {
    auto sig = ops_->SignEs256(KeyUse::kToken, data);
    if (!sig.ok()) {
      ADD_FAILURE() << sig.status().message();
      return false;
    }
    return ops_->Public(KeyUse::kToken).VerifyEs256(data, *sig);
  }

  // Replaces ops_ with one built from `options`.
  void Recreate(HsmOptions options) {
    ops_.reset();
    auto ops = Pkcs11KeyOps::Create(std::move(options));
    ASSERT_TRUE(ops.ok()) << ops.status().message();
    ops_ = std::move(ops).value();
  }
  // Returns once a C_Sign has reached the module since `before` calls.
  bool SignArrived(unsigned long before) {
    return Eventually([&] { return Calls("C_Sign") > before; }, seconds(5));
  }

  static inline std::string* control_ = nullptr;
  static inline std::string* stats_ = nullptr;
  std::unique_ptr<Pkcs11KeyOps> ops_;
};

TEST_F(FaultModuleTest, CallsGoThroughTheModule) {
  auto before = Stats();
  EXPECT_EQ(before.size(), 13u);  // every consulted function, called or not
  EXPECT_GE(before["C_GetSlotList"], 1u);
  EXPECT_GE(before["C_Login"], 1u);
  EXPECT_GE(before["C_OpenSession"], 1u);
  ASSERT_TRUE(SignsAndVerifies("hello"));
  auto after = Stats();
  EXPECT_EQ(after["C_SignInit"], before["C_SignInit"] + 1);
  EXPECT_EQ(after["C_Sign"], before["C_Sign"] + 1);
  EXPECT_EQ(after["C_Login"], before["C_Login"]);
  EXPECT_EQ(after["C_OpenSession"], before["C_OpenSession"]);
}

TEST_F(FaultModuleTest, DeviceErrorFailsUntilThePlanIsRemoved) {
  WritePlan("C_Sign CKR_DEVICE_ERROR\n");
  auto sig = ops_->SignEs256(KeyUse::kToken, "x");
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(sig.status().message().find("CKR_DEVICE_ERROR"), std::string::npos)
      << sig.status().message();

  ClearPlan();
  ASSERT_TRUE(WaitReady());
  EXPECT_TRUE(SignsAndVerifies("after the fault"));
}

TEST_F(FaultModuleTest, OneLostSessionIsAbsorbedByARetry) {
  auto before = Stats();
  WritePlan("C_Sign CKR_SESSION_HANDLE_INVALID 1\n");
  EXPECT_TRUE(SignsAndVerifies("retried"));
  auto after = Stats();
  EXPECT_EQ(after["C_Sign"], before["C_Sign"] + 2);  // the failure, the retry
  EXPECT_EQ(after["C_OpenSession"], before["C_OpenSession"] + 1);
  // The count is used up: the next call passes at the first try.
  EXPECT_TRUE(SignsAndVerifies("again"));
  EXPECT_EQ(Calls("C_Sign"), before["C_Sign"] + 3);
}

TEST_F(FaultModuleTest, LogoutIsFollowedByANewLogin) {
  unsigned long logins = Calls("C_Login");
  WritePlan("LOGOUT\n");
  auto sig = ops_->SignEs256(KeyUse::kToken, "after restart");
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  EXPECT_TRUE(ops_->Public(KeyUse::kToken).VerifyEs256("after restart", *sig));
  EXPECT_GT(Calls("C_Login"), logins);
  // LOGOUT fires once per plan version.
  unsigned long opens = Calls("C_OpenSession");
  EXPECT_TRUE(SignsAndVerifies("still logged in"));
  EXPECT_EQ(Calls("C_OpenSession"), opens);
}

TEST_F(FaultModuleTest, HangDelaysTheCallThenForwardsIt) {
  WritePlan("C_Sign HANG 300\n");
  auto start = SteadyClock::now();
  EXPECT_TRUE(SignsAndVerifies("slow"));
  EXPECT_GE(SteadyClock::now() - start, milliseconds(300));
}

TEST_F(FaultModuleTest, HangHoldsNoLockOverOtherCalls) {
  WritePlan("C_Sign HANG 3000 1\n");
  unsigned long signs = Calls("C_Sign");
  std::atomic<bool> slow_done{false};
  std::thread slow([&] {
    EXPECT_TRUE(ops_->SignEs256(KeyUse::kToken, "slow").ok());
    slow_done = true;
  });
  ASSERT_TRUE(Eventually([&] { return Calls("C_Sign") > signs; }, seconds(2)))
      << "the slow C_Sign never arrived";
  // The hang is used up; this call must not wait for the sleeping one.
  auto random = ops_->Random(16);
  EXPECT_TRUE(random.ok()) << random.status().message();
  EXPECT_FALSE(slow_done.load());
  slow.join();
}

// A call that has not returned within op_timeout is abandoned: the key ops
// turn unready at once (other calls fail instead of queueing behind it),
// and recover on a fresh session while the hung call is still inside the
// HSM. When it finally returns, its caller gets Unavailable (too late to
// use) and readiness is not touched.
TEST_F(FaultModuleTest, HungCallIsAbandonedAndRecoveryUsesAFreshSession) {
  HsmOptions options = Options();
  options.op_timeout = milliseconds(200);
  ASSERT_NO_FATAL_FAILURE(Recreate(std::move(options)));

  unsigned long signs = Calls("C_Sign");
  WritePlan("C_Sign BLOCK 1\n");  // the fault: one C_Sign hangs
  StatusOr<std::string> late = Status::Internal("not run");
  std::thread slow([&] { late = ops_->SignEs256(KeyUse::kToken, "slow"); });
  ASSERT_TRUE(SignArrived(signs));
  EXPECT_TRUE(Eventually([&] { return !ops_->Ready(); }, seconds(2)));
  auto refused = ops_->Random(8);
  EXPECT_FALSE(refused.ok());

  // Recovered while the call still hangs (the plan keeps it blocked).
  ASSERT_TRUE(WaitReady());
  PoolStats stats = ops_->SessionStats();
  EXPECT_EQ(stats.stuck, 1u);
  EXPECT_GE(stats.abandoned, 1u);
  EXPECT_TRUE(SignsAndVerifies("beside the hung call"));

  WritePlan("");  // the HSM answers the hung call at last
  slow.join();
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(late.status().message().find("did not return within 200 ms"),
            std::string::npos)
      << late.status().message();
  EXPECT_TRUE(ops_->Ready());
  EXPECT_EQ(ops_->SessionStats().stuck, 0u);
  EXPECT_EQ(ops_->SessionStats().in_use, 0u);
  EXPECT_TRUE(ops_->FatalReason().empty());
}

// Every session busy is back-pressure: the caller gets Busy after the
// bounded wait, and the HSM stays ready.
TEST_F(FaultModuleTest, PoolContentionIsBusyNotAFault) {
  HsmOptions options = Options();
  options.max_sessions = 1;
  options.op_timeout = seconds(30);  // nothing is abandoned in this test
  options.session_wait = milliseconds(100);
  ASSERT_NO_FATAL_FAILURE(Recreate(std::move(options)));

  unsigned long signs = Calls("C_Sign");
  WritePlan("C_Sign BLOCK 1\n");  // holds the one session
  std::thread holder(
      [&] { EXPECT_TRUE(ops_->SignEs256(KeyUse::kToken, "held").ok()); });
  ASSERT_TRUE(SignArrived(signs));
  auto busy = ops_->Random(8);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), StatusCode::kBusy) << busy.status().message();
  EXPECT_TRUE(ops_->Ready());
  EXPECT_EQ(ops_->NotReadyReason(), "");

  WritePlan("");
  holder.join();
  EXPECT_TRUE(ops_->Random(8).ok());
}

// When the fresh session hangs too, recovery cannot succeed: the supervisor
// gives up, says why, and calls back so that authd can exit for a restart.
TEST_F(FaultModuleTest, GivesUpWhenRecoveryHangsToo) {
  std::atomic<int> fatal_calls{0};
  HsmOptions options = Options();
  options.op_timeout = milliseconds(200);
  options.on_fatal = [&] { ++fatal_calls; };
  ASSERT_NO_FATAL_FAILURE(Recreate(std::move(options)));

  unsigned long signs = Calls("C_Sign");
  WritePlan("C_Sign BLOCK 1\nC_Login BLOCK\n");
  std::thread slow([&] { (void)ops_->SignEs256(KeyUse::kToken, "slow"); });
  ASSERT_TRUE(SignArrived(signs));
  ASSERT_TRUE(Eventually([&] { return fatal_calls.load() > 0; }));
  EXPECT_EQ(fatal_calls.load(), 1);
  EXPECT_NE(ops_->FatalReason().find("recovery on a fresh HSM session"),
            std::string::npos)
      << ops_->FatalReason();
  EXPECT_FALSE(ops_->Ready());

  WritePlan("");  // lets the stuck threads out, so ops_ can be destroyed
  slow.join();
  EXPECT_FALSE(ops_->Ready());  // given up for good
  EXPECT_EQ(fatal_calls.load(), 1);
}

TEST_F(FaultModuleTest, CountedFailuresRunOutThenCallsPass) {
  unsigned long before = Calls("C_GenerateRandom");
  WritePlan("C_GenerateRandom CKR_FUNCTION_FAILED 2\n");
  auto first = ops_->Random(8);
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.status().message().find("CKR_FUNCTION_FAILED"),
            std::string::npos);
  // Not a lost session, so no retry: each call uses up one failure.
  EXPECT_EQ(Calls("C_GenerateRandom"), before + 1);
  EXPECT_FALSE(ops_->Random(8).ok());
  EXPECT_TRUE(ops_->Random(8).ok());
  EXPECT_EQ(Calls("C_GenerateRandom"), before + 3);
}

TEST_F(FaultModuleTest, AnEditedPlanIsReadAgainWithFreshCounts) {
  std::ofstream(*control_) << "C_GenerateRandom CKR_FUNCTION_FAILED 1\n";
  EXPECT_FALSE(ops_->Random(8).ok());
  EXPECT_TRUE(ops_->Random(8).ok());
  // Rewritten in place: a new size tells the module (same-size edits within
  // one clock tick need WritePlan's rename).
  std::ofstream(*control_) << "C_GenerateRandom CKR_FUNCTION_FAILED 2\n";
  EXPECT_FALSE(ops_->Random(8).ok());
  EXPECT_FALSE(ops_->Random(8).ok());
  EXPECT_TRUE(ops_->Random(8).ok());
}

TEST_F(FaultModuleTest, WildcardAndHexCodes) {
  WritePlan("* CKR_TOKEN_NOT_PRESENT\n");
  auto r = ops_->Random(8);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("CKR_TOKEN_NOT_PRESENT"),
            std::string::npos)
      << r.status().message();

  ClearPlan();
  ASSERT_TRUE(WaitReady());
  WritePlan("# hex for CKR_DEVICE_ERROR\nC_GenerateRandom 0x30\n");
  r = ops_->Random(8);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("CKR_DEVICE_ERROR"), std::string::npos)
      << r.status().message();
}

// A rejected PIN must not be tried again: each try burns one of the token's
// few retries before CKR_PIN_LOCKED.
TEST_F(FaultModuleTest, RejectedPinIsNotRetried) {
  unsigned long logins = Calls("C_Login");
  WritePlan("LOGOUT\nC_Login CKR_PIN_INCORRECT\n");
  EXPECT_FALSE(ops_->SignEs256(KeyUse::kToken, "a").ok());
  EXPECT_FALSE(ops_->SignEs256(KeyUse::kToken, "b").ok());
  // An absence cannot be waited on, only watched for: the one sleep here
  // gives the supervisor (a round every 100 ms while unready) several
  // rounds in which to (wrongly) log in again.
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_EQ(Calls("C_Login"), logins + 1);
}

// After an HSM restart, private data objects are invisible until the next
// login; ReadData may fail, but must not report them absent (the audit
// log's head lives there).
TEST_F(FaultModuleTest, ReadDataAfterLogoutDoesNotReportObjectsAbsent) {
  ASSERT_TRUE(ops_->WriteData("authd-fault-test", "v1").ok());
  WritePlan("LOGOUT\n");
  auto values = ops_->ReadData("authd-fault-test");
  if (values.ok()) {
    EXPECT_EQ(*values, std::vector<std::string>{"v1"});
  }
}

// The module's own contract, below Pkcs11KeyOps: LOGOUT ends every session
// and the login, as an HSM restart would, and a new session can log in again.
TEST_F(FaultModuleTest, LogoutEndsSessionsAndLoginAtTheModule) {
  ops_.reset();
  auto module = Module::Load(FaultModulePath());
  ASSERT_TRUE(module.ok()) << module.status().message();
  CK_FUNCTION_LIST* fn = (*module)->fn();
  auto slot = (*module)->FindSlot(SoftHsmToken::Get().uri());
  ASSERT_TRUE(slot.ok()) << slot.status().message();
  const std::string& pin = SoftHsmToken::Get().pin;
  auto login = [&](CK_SESSION_HANDLE h) {
    return fn->C_Login(
        h, CKU_USER,
        reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())),
        pin.size());
  };
  auto old = Session::Open(fn, *slot);
  ASSERT_TRUE(old.ok());
  ASSERT_EQ(login(old->handle()), CKR_OK);
  CK_SESSION_INFO info;
  ASSERT_EQ(fn->C_GetSessionInfo(old->handle(), &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_USER_FUNCTIONS);

  WritePlan("LOGOUT\n");
  auto fresh = Session::Open(fn, *slot);  // a consulted call: LOGOUT fires
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fn->C_GetSessionInfo(old->handle(), &info),
            CKR_SESSION_HANDLE_INVALID);
  ASSERT_EQ(fn->C_GetSessionInfo(fresh->handle(), &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_PUBLIC_SESSION);
  EXPECT_EQ(login(fresh->handle()), CKR_OK);
  ASSERT_EQ(fn->C_GetSessionInfo(fresh->handle(), &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_USER_FUNCTIONS);
  // Once per plan version: a second session keeps the login.
  auto third = Session::Open(fn, *slot);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(fn->C_GetSessionInfo(fresh->handle(), &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_USER_FUNCTIONS);
}

}  // namespace
}  // namespace authd::hsm
