// libauthd_fault_pkcs11.so: a PKCS#11 module for tests that forwards to a
// real module (SoftHSM2) and fails chosen calls on command, standing in for an
// HSM that errors, stalls or restarts. It is loaded like any module (by path,
// through p11-kit in managed mode), so the code under test is the production
// path.
//
// Environment, read once, when the module is first asked for its functions:
//   AUTHD_FAULT_REAL_MODULE  the module to forward to (default
//                            /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so)
//   AUTHD_FAULT_CONTROL      path of the fault plan; absent file = no faults.
//                            Stat()ed on every consulted call and re-read
//                            when its inode, size or times change. File
//                            times move in clock ticks, so replace the file
//                            by rename() to be sure a change is seen.
//   AUTHD_FAULT_STATS        if set, a file rewritten (atomically, by rename)
//                            on each consulted call with one `FUNCTION N`
//                            line per consulted function: calls since load,
//                            injected failures included.
//
// Plan syntax, one rule per line; `#` starts a comment; blank lines ignored:
//   FUNCTION RESULT [COUNT]  FUNCTION is a consulted function (below) or `*`;
//                            RESULT a CKR_* name from kRvNames or a hex code
//                            (`0x30`). Without COUNT every call fails; with
//                            it the next COUNT calls do.
//   FUNCTION HANG MS [COUNT] sleep MS milliseconds, then forward normally.
//   FUNCTION BLOCK [COUNT]   wait until a plan with no BLOCK rule for
//                            FUNCTION (or `*`) is in place, then forward
//                            normally: a call that hangs until the test
//                            lets it go. `FUNCTION BLOCK 0` blocks no new
//                            call but keeps those already blocked waiting.
//   LOGOUT                   once per plan version, on the next consulted
//                            call: the real C_CloseAllSessions on every slot,
//                            which drops the login (an HSM restart).
// The first rule that matches a call and is not used up decides it. Counts
// restart whenever the plan is re-read. Malformed lines are reported on
// stderr and ignored.
//
// Consulted: C_OpenSession C_CloseSession C_Login C_Sign C_SignInit
// C_GenerateRandom C_FindObjectsInit C_FindObjects C_GetAttributeValue
// C_CreateObject C_DestroyObject C_GetSlotList C_GetTokenInfo. Every other
// entry is the real module's own function.
//
// Thread-safe: the plan and counts sit behind mutexes that are never held
// while a call is forwarded or a hang sleeps. One caveat: dlopen() of the same
// real module path returns the same instance, so do not load the real module
// directly in a process that loads this one.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// clang-format off
#define AUTHD_FAULT_HOOKS(X)                                              \
  X(C_OpenSession) X(C_CloseSession) X(C_Login) X(C_Sign) X(C_SignInit)   \
  X(C_GenerateRandom) X(C_FindObjectsInit) X(C_FindObjects)               \
  X(C_GetAttributeValue) X(C_CreateObject) X(C_DestroyObject)             \
  X(C_GetSlotList) X(C_GetTokenInfo)
// clang-format on

enum Hook : size_t {
#define AUTHD_FAULT_ENUM(f) k_##f,
  AUTHD_FAULT_HOOKS(AUTHD_FAULT_ENUM)
#undef AUTHD_FAULT_ENUM
      kHookCount
};

constexpr std::array<const char*, kHookCount> kHookNames = {
#define AUTHD_FAULT_NAME(f) #f,
    AUTHD_FAULT_HOOKS(AUTHD_FAULT_NAME)
#undef AUTHD_FAULT_NAME
};

constexpr struct {
  const char* name;
  CK_RV rv;
} kRvNames[] = {
    {"CKR_DEVICE_ERROR", CKR_DEVICE_ERROR},
    {"CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED},
    {"CKR_DEVICE_MEMORY", CKR_DEVICE_MEMORY},
    {"CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT},
    {"CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID},
    {"CKR_SESSION_CLOSED", CKR_SESSION_CLOSED},
    {"CKR_SESSION_COUNT", CKR_SESSION_COUNT},
    {"CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN},
    {"CKR_GENERAL_ERROR", CKR_GENERAL_ERROR},
    {"CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED},
    {"CKR_PIN_INCORRECT", CKR_PIN_INCORRECT},
    {"CKR_PIN_LOCKED", CKR_PIN_LOCKED},
    {"CKR_OBJECT_HANDLE_INVALID", CKR_OBJECT_HANDLE_INVALID},
    {"CKR_KEY_HANDLE_INVALID", CKR_KEY_HANDLE_INVALID},
    {"CKR_CRYPTOKI_NOT_INITIALIZED", CKR_CRYPTOKI_NOT_INITIALIZED},
};

struct Rule {
  std::optional<size_t> hook;  // nullopt for `*`
  CK_RV rv = CKR_OK;           // CKR_OK for HANG and BLOCK
  long hang_ms = 0;
  bool block = false;
  std::optional<unsigned long> count;  // nullopt: every call
  unsigned long used = 0;
};

struct Plan {
  std::vector<Rule> rules;
  bool logout = false;
  bool logout_done = false;
};

// What the consulted call must do before (or instead of) forwarding.
struct Action {
  CK_RV rv = CKR_OK;
  long hang_ms = 0;
  bool block = false;
  bool logout = false;
};

std::optional<unsigned long> ParseNumber(const std::string& s, int base) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  unsigned long v = strtoul(s.c_str(), &end, base);
  if (*end != '\0' || s[0] == '-') return std::nullopt;
  return v;
}

std::optional<Rule> ParseRule(const std::vector<std::string>& t) {
  Rule r;
  if (t[0] != "*") {
    for (size_t i = 0; i < kHookCount; ++i) {
      if (t[0] == kHookNames[i]) r.hook = i;
    }
    if (!r.hook) return std::nullopt;
  }
  size_t next = 2;
  if (t[1] == "BLOCK") {
    r.block = true;
  } else if (t[1] == "HANG") {
    if (t.size() < 3) return std::nullopt;
    auto ms = ParseNumber(t[2], 10);
    if (!ms) return std::nullopt;
    r.hang_ms = static_cast<long>(*ms);
    next = 3;
  } else if (t[1].rfind("0x", 0) == 0 || t[1].rfind("0X", 0) == 0) {
    auto rv = ParseNumber(t[1].substr(2), 16);
    if (!rv || *rv == CKR_OK) return std::nullopt;
    r.rv = *rv;
  } else {
    for (const auto& n : kRvNames) {
      if (t[1] == n.name) r.rv = n.rv;
    }
    if (r.rv == CKR_OK) return std::nullopt;
  }
  if (t.size() > next + 1) return std::nullopt;
  if (t.size() == next + 1) {
    r.count = ParseNumber(t[next], 10);
    if (!r.count) return std::nullopt;
  }
  return r;
}

Plan ParsePlan(std::istream& in) {
  Plan plan;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line.substr(0, line.find('#')));
    std::vector<std::string> t;
    for (std::string w; words >> w;) t.push_back(w);
    if (t.empty()) continue;
    if (t.size() == 1 && t[0] == "LOGOUT") {
      plan.logout = true;
      continue;
    }
    std::optional<Rule> rule;
    if (t.size() >= 2) rule = ParseRule(t);
    if (rule) {
      plan.rules.push_back(*rule);
    } else {
      fprintf(stderr, "authd_fault_pkcs11: ignoring plan line '%s'\n",
              line.c_str());
    }
  }
  return plan;
}

// Identifies one version of the control file; equal keys mean "unchanged".
struct FileKey {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{}, ctime{};
  bool operator==(const FileKey& o) const {
    return exists == o.exists && dev == o.dev && ino == o.ino &&
           size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec &&
           ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

FileKey StatKey(const std::string& path) {
  struct stat st;
  if (path.empty() || stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

struct State {
  CK_FUNCTION_LIST* real = nullptr;
  CK_FUNCTION_LIST list{};
  std::string control_path, stats_path;

  std::mutex plan_mu;
  FileKey plan_key;  // GUARDED_BY(plan_mu)
  Plan plan;         // GUARDED_BY(plan_mu)

  std::mutex stats_mu;
  std::array<std::atomic<unsigned long>, kHookCount> calls{};
};

State& GetState();

// Reads the plan again if its file changed. REQUIRES: s.plan_mu held.
void ReloadPlan(State& s) {
  FileKey key = StatKey(s.control_path);
  if (!(key == s.plan_key)) {
    s.plan_key = key;
    std::ifstream in(s.control_path);
    s.plan = key.exists && in ? ParsePlan(in) : Plan();
  }
}

// Whether the current plan still blocks calls to `hook`.
bool StillBlocked(size_t hook) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.plan_mu);
  ReloadPlan(s);
  for (const Rule& r : s.plan.rules) {
    if (r.block && (!r.hook || *r.hook == hook)) return true;
  }
  return false;
}

// Counts the call, then decides its fate from the current plan.
Action Consult(size_t hook) {
  State& s = GetState();
  s.calls[hook].fetch_add(1);
  Action action;
  {
    std::lock_guard<std::mutex> lock(s.plan_mu);
    ReloadPlan(s);
    if (s.plan.logout && !s.plan.logout_done) {
      s.plan.logout_done = true;
      action.logout = true;
    }
    for (Rule& r : s.plan.rules) {
      if (r.hook && *r.hook != hook) continue;
      if (r.count && r.used >= *r.count) continue;
      ++r.used;
      action.rv = r.rv;
      action.hang_ms = r.hang_ms;
      action.block = r.block;
      break;
    }
  }
  if (!s.stats_path.empty()) {
    std::lock_guard<std::mutex> lock(s.stats_mu);
    std::string tmp = s.stats_path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      for (size_t i = 0; i < kHookCount; ++i) {
        out << kHookNames[i] << ' ' << s.calls[i].load() << '\n';
      }
    }
    rename(tmp.c_str(), s.stats_path.c_str());
  }
  return action;
}

// The real module loses every session, and with them the login.
void CloseAllRealSessions(CK_FUNCTION_LIST* real) {
  CK_ULONG n = 0;
  if (real->C_GetSlotList(CK_FALSE, nullptr, &n) != CKR_OK) return;
  std::vector<CK_SLOT_ID> slots(n);
  if (real->C_GetSlotList(CK_FALSE, slots.data(), &n) != CKR_OK) return;
  for (CK_ULONG i = 0; i < n; ++i) real->C_CloseAllSessions(slots[i]);
}

// The entry installed for consulted function `H`; `M` is its member in
// CK_FUNCTION_LIST. Args are deduced from the entry's type on assignment.
template <size_t H, auto M, typename... Args>
CK_RV Hooked(Args... args) noexcept {
  Action a;
  try {
    a = Consult(H);
  } catch (...) {
    return CKR_GENERAL_ERROR;  // nothing may throw into the caller
  }
  CK_FUNCTION_LIST* real = GetState().real;
  if (a.logout) CloseAllRealSessions(real);
  if (a.hang_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(a.hang_ms));
  }
  try {
    while (a.block && StillBlocked(H)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
  if (a.rv != CKR_OK) return a.rv;
  return (real->*M)(args...);
}

CK_RV FaultGetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

// Loads the real module on first use. Neither the state nor the real module
// is ever released: nothing tells this module when its last caller is done.
State* LoadState() {
  auto* s = new State();
  const char* real_path = getenv("AUTHD_FAULT_REAL_MODULE");
  if (real_path == nullptr || *real_path == '\0') {
    real_path = "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so";
  }
  if (const char* p = getenv("AUTHD_FAULT_CONTROL")) s->control_path = p;
  if (const char* p = getenv("AUTHD_FAULT_STATS")) s->stats_path = p;
  void* lib = dlopen(real_path, RTLD_NOW | RTLD_LOCAL);
  auto get = lib ? reinterpret_cast<CK_C_GetFunctionList>(
                       dlsym(lib, "C_GetFunctionList"))
                 : nullptr;
  if (get == nullptr || get(&s->real) != CKR_OK || s->real == nullptr) {
    fprintf(stderr, "authd_fault_pkcs11: cannot load %s: %s\n", real_path,
            lib ? "no usable C_GetFunctionList" : dlerror());
    s->real = nullptr;
    return s;
  }
  s->list = *s->real;
  s->list.C_GetFunctionList = &FaultGetFunctionList;
#define AUTHD_FAULT_INSTALL(f) s->list.f = &Hooked<k_##f, &CK_FUNCTION_LIST::f>;
  AUTHD_FAULT_HOOKS(AUTHD_FAULT_INSTALL)
#undef AUTHD_FAULT_INSTALL
  return s;
}

State& GetState() {
  static State* state = LoadState();
  return *state;
}

CK_RV FaultGetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
  if (out == nullptr) return CKR_ARGUMENTS_BAD;
  State& s = GetState();
  if (s.real == nullptr) return CKR_GENERAL_ERROR;
  *out = &s.list;
  return CKR_OK;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR out) {
  return FaultGetFunctionList(out);
}
