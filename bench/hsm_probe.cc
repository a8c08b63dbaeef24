// hsm_probe: the HSM's own rate, the reference the token benchmark is
// measured against (bench/report.d/10-tokens.sh). Signs with ES256 (or runs
// the pepper HMAC) from N threads for a few seconds, each thread on its own
// PKCS#11 session, with the persistent key authd itself uses (found by
// label on a token authd has opened), and prints the operations per second.
// No pool, no lease, no retry: this is what the token does when nothing
// else is in the way. (ES256 is CKM_ECDSA over a SHA-256 computed in
// software, as authd does it.)
//
//   hsm_probe --token-uri URI --pin-file FILE [--module softhsm2]
//             [--threads 2] [--seconds 3] [--op sign|hmac]
//
// Prints one line: "op=sign threads=2 seconds=3.00 ops=... ops_per_s=...".
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "hsm/key_ops.h"
#include "hsm/module.h"

namespace authd {
namespace {

struct ProbeArgs {
  std::string module = "softhsm2";
  std::string token_uri;
  std::string pin_file;
  std::string op = "sign";
  int threads = 2;
  double seconds = 3;
};

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "hsm_probe: %s\n", what.c_str());
  std::exit(2);
}

ProbeArgs ParseArgs(int argc, char** argv) {
  ProbeArgs a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--module") {
      a.module = v;
    } else if (k == "--token-uri") {
      a.token_uri = v;
    } else if (k == "--pin-file") {
      a.pin_file = v;
    } else if (k == "--op") {
      a.op = v;
    } else if (k == "--threads") {
      a.threads = std::max(1, atoi(v.c_str()));
    } else if (k == "--seconds") {
      a.seconds = std::max(0.1, atof(v.c_str()));
    } else {
      Die("unknown flag " + k);
    }
  }
  if (argc % 2 == 0) Die("every flag takes a value");
  if (a.token_uri.empty() || a.pin_file.empty()) {
    Die("--token-uri and --pin-file are required");
  }
  if (a.op != "sign" && a.op != "hmac") Die("--op is sign or hmac");
  return a;
}

CK_OBJECT_HANDLE FindKey(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                         const std::string& label, CK_OBJECT_CLASS cls) {
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
  CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
  CK_ULONG n = 0;
  if (fn->C_FindObjectsInit(h, tmpl, 2) != CKR_OK) Die("C_FindObjectsInit");
  fn->C_FindObjects(h, &obj, 1, &n);
  fn->C_FindObjectsFinal(h);
  if (n != 1) Die("no object labelled " + label + " (has authd opened it?)");
  return obj;
}

// One operation on `h`: C_SignInit and C_Sign, as Pkcs11KeyOps does.
bool Once(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h, CK_MECHANISM_TYPE mech,
          CK_OBJECT_HANDLE key, std::string& data, unsigned char* out) {
  CK_MECHANISM m{mech, nullptr, 0};
  CK_ULONG len = 512;
  return fn->C_SignInit(h, &m, key) == CKR_OK &&
         fn->C_Sign(h, reinterpret_cast<CK_BYTE*>(data.data()), data.size(),
                    out, &len) == CKR_OK;
}

int Run(const ProbeArgs& a) {
  auto module = hsm::Module::Load(a.module);
  if (!module.ok()) Die(module.status().message());
  CK_FUNCTION_LIST* fn = (*module)->fn();
  auto slot = (*module)->FindSlot(a.token_uri);
  if (!slot.ok()) Die(slot.status().message());
  std::string pin;
  std::ifstream(a.pin_file) >> pin;
  std::vector<hsm::Session> sessions;
  for (int i = 0; i < a.threads; ++i) {
    auto s = hsm::Session::Open(fn, *slot);
    if (!s.ok()) Die(s.status().message());
    sessions.push_back(std::move(s).value());
  }
  CK_RV rv =
      fn->C_Login(sessions[0].handle(), CKU_USER,
                  reinterpret_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) Die("C_Login failed");
  bool sign = a.op == "sign";
  CK_OBJECT_HANDLE key = sign ? FindKey(fn, sessions[0].handle(),
                                        hsm::kTokenKeyLabel, CKO_PRIVATE_KEY)
                              : FindKey(fn, sessions[0].handle(),
                                        hsm::kPepperLabel, CKO_SECRET_KEY);
  // As Pkcs11KeyOps: ES256 signs the SHA-256 of the input (hashed in
  // software) with CKM_ECDSA; the pepper is CKM_SHA256_HMAC.
  CK_MECHANISM_TYPE mech = sign ? CKM_ECDSA : CKM_SHA256_HMAC;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0}, failed{0};
  std::vector<std::thread> workers;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < a.threads; ++i) {
    workers.emplace_back([&, h = sessions[i].handle()] {
      // A digest, or about the size of a pepper input.
      std::string data(sign ? 32 : 60, 'x');
      unsigned char out[512];
      uint64_t n = 0, bad = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        (Once(fn, h, mech, key, data, out) ? n : bad)++;
      }
      total += n;
      failed += bad;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  printf("op=%s threads=%d seconds=%.2f ops=%llu errors=%llu ops_per_s=%.0f\n",
         a.op.c_str(), a.threads, secs,
         static_cast<unsigned long long>(total.load()),
         static_cast<unsigned long long>(failed.load()), total / secs);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace authd

int main(int argc, char** argv) {
  return authd::Run(authd::ParseArgs(argc, argv));
}
