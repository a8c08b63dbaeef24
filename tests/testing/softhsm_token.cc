#include "testing/softhsm_token.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace authd::testing {

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    abort();
  }
  static std::vector<std::string>* dirs = [] {
    auto* v = new std::vector<std::string>();
    atexit([] {
      for (const auto& d : *dirs) std::filesystem::remove_all(d);
    });
    return v;
  }();
  dirs->push_back(tmpl);
  return tmpl;
}

const SoftHsmToken& SoftHsmToken::Get() {
  static const SoftHsmToken* token = [] {
    auto* t = new SoftHsmToken();
    t->dir = MakeTempDir("authd-softhsm-");
    std::filesystem::create_directories(t->dir + "/tokens");
    std::ofstream(t->dir + "/softhsm2.conf")
        << "directories.tokendir = " << t->dir << "/tokens\n"
        << "objectstore.backend = file\nlog.level = ERROR\n";
    setenv("SOFTHSM2_CONF", (t->dir + "/softhsm2.conf").c_str(), 1);
    std::string cmd = "softhsm2-util --init-token --free --label " + t->label +
                      " --so-pin so-pin-1234 --pin " + t->pin +
                      " >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) {
      fprintf(stderr, "softhsm2-util --init-token failed\n");
      abort();
    }
    return t;
  }();
  return *token;
}

hsm::Pkcs11KeyOps& SoftHsmToken::Keys() {
  static hsm::Pkcs11KeyOps* keys = [] {
    const SoftHsmToken& t = Get();
    auto ops = hsm::Pkcs11KeyOps::Create(
        {"softhsm2", t.uri(), SecureString(t.pin), 8});
    if (!ops.ok()) {
      fprintf(stderr, "cannot open test token: %s\n",
              ops.status().message().c_str());
      abort();
    }
    return std::move(ops).value().release();
  }();
  return *keys;
}

}  // namespace authd::testing
