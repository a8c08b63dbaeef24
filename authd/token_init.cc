// authd-token-init: initializes a token for authd in development and tests,
// with the SO and user PINs read from files (never argv or environment).
//   authd-token-init --module softhsm2 --label authd
//                    --so-pin-file F --pin-file F
// Exit 0 when initialized or already present, 1 on failure, 2 on usage.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/secure_string.h"
#include "hsm/provision.h"

namespace {

bool ReadFile(const std::string& path, authd::SecureString* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  std::string v = s.str();
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  *out = authd::SecureString(v);
  OPENSSL_cleanse(v.data(), v.size());
  return !out->empty();
}

}  // namespace

int main(int argc, char** argv) {
  std::string module = "softhsm2", label = "authd", so_file, pin_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--module")
      module = v;
    else if (k == "--label")
      label = v;
    else if (k == "--so-pin-file")
      so_file = v;
    else if (k == "--pin-file")
      pin_file = v;
    else {
      fprintf(stderr, "authd-token-init: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0 || so_file.empty() || pin_file.empty()) {
    fprintf(stderr,
            "usage: authd-token-init [--module M] [--label L] --so-pin-file F "
            "--pin-file F\n");
    return 2;
  }
  authd::SecureString so_pin, pin;
  if (!ReadFile(so_file, &so_pin) || !ReadFile(pin_file, &pin)) {
    fprintf(stderr, "authd-token-init: cannot read a PIN file\n");
    return 1;
  }
  authd::Status st = authd::hsm::InitToken(module, label, so_pin, pin);
  if (st.code() == authd::StatusCode::kAlreadyExists) {
    fprintf(stderr, "authd-token-init: %s; left as it is\n",
            st.message().c_str());
    return 0;
  }
  if (!st.ok()) {
    fprintf(stderr, "authd-token-init: %s\n", st.message().c_str());
    return 1;
  }
  fprintf(stderr, "authd-token-init: initialized token %s\n", label.c_str());
  return 0;
}
