#include "bench/bench_token.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "hsm/provision.h"

namespace authd::bench {
namespace {

constexpr char kLabel[] = "authd-bench";
constexpr char kPin[] = "bench-user-pin-1234";

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

const std::string& Dir() {
  static const std::string* dir = [] {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "authd-bench-XXXXXX")
            .string();
    if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
    std::filesystem::create_directories(tmpl + "/tokens");
    std::ofstream(tmpl + "/softhsm2.conf")
        << "directories.tokendir = " << tmpl << "/tokens\n"
        << "objectstore.backend = file\nlog.level = ERROR\n";
    setenv("SOFTHSM2_CONF", (tmpl + "/softhsm2.conf").c_str(), 1);
    auto* out = new std::string(tmpl);
    atexit([] { std::filesystem::remove_all(Dir()); });
    return out;
  }();
  return *dir;
}

}  // namespace

hsm::Pkcs11KeyOps& Keys() {
  static hsm::Pkcs11KeyOps* keys = [] {
    Dir();
    Status init = hsm::InitToken(
        "softhsm2", kLabel, SecureString("bench-so-pin"), SecureString(kPin));
    if (!init.ok()) Die("cannot create the SoftHSM2 token: " + init.message());
    auto ops = hsm::Pkcs11KeyOps::Create({"softhsm2",
                                          std::string("pkcs11:token=") + kLabel,
                                          SecureString(kPin), 8});
    if (!ops.ok())
      Die("cannot open the SoftHSM2 token: " + ops.status().message());
    return std::move(ops).value().release();
  }();
  return *keys;
}

std::string ScratchDir(const std::string& name) {
  std::string dir = Dir() + "/" + name;
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace authd::bench
