#include "hsm/module.h"

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/deleter.h"

namespace authd::hsm {
namespace {

using UriPtr = std::unique_ptr<P11KitUri, Deleter<p11_kit_uri_free>>;

const char* RvName(CK_RV rv) {
  switch (rv) {
    case CKR_OK:
      return "CKR_OK";
    case CKR_GENERAL_ERROR:
      return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED:
      return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD:
      return "CKR_ARGUMENTS_BAD";
    case CKR_DEVICE_ERROR:
      return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_MEMORY:
      return "CKR_DEVICE_MEMORY";
    case CKR_DEVICE_REMOVED:
      return "CKR_DEVICE_REMOVED";
    case CKR_TOKEN_NOT_PRESENT:
      return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_NOT_RECOGNIZED:
      return "CKR_TOKEN_NOT_RECOGNIZED";
    case CKR_SESSION_CLOSED:
      return "CKR_SESSION_CLOSED";
    case CKR_SESSION_HANDLE_INVALID:
      return "CKR_SESSION_HANDLE_INVALID";
    case CKR_USER_NOT_LOGGED_IN:
      return "CKR_USER_NOT_LOGGED_IN";
    case CKR_PIN_INCORRECT:
      return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED:
      return "CKR_PIN_LOCKED";
    case CKR_PIN_LEN_RANGE:
      return "CKR_PIN_LEN_RANGE";
    case CKR_MECHANISM_INVALID:
      return "CKR_MECHANISM_INVALID";
    case CKR_KEY_HANDLE_INVALID:
      return "CKR_KEY_HANDLE_INVALID";
    case CKR_OBJECT_HANDLE_INVALID:
      return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_ATTRIBUTE_TYPE_INVALID:
      return "CKR_ATTRIBUTE_TYPE_INVALID";
    case CKR_ATTRIBUTE_SENSITIVE:
      return "CKR_ATTRIBUTE_SENSITIVE";
    case CKR_TEMPLATE_INCONSISTENT:
      return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case CKR_SESSION_COUNT:
      return "CKR_SESSION_COUNT";
    case CKR_TOKEN_WRITE_PROTECTED:
      return "CKR_TOKEN_WRITE_PROTECTED";
    case CKR_BUFFER_TOO_SMALL:
      return "CKR_BUFFER_TOO_SMALL";
    default:
      return nullptr;
  }
}

}  // namespace

bool IsSessionLost(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_ERROR:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return true;
    default:
      return false;
  }
}

Status RvToStatus(CK_RV rv, std::string_view what) {
  if (rv == CKR_OK) return Status::Ok();
  std::string name;
  if (const char* n = RvName(rv)) {
    name = n;
  } else {
    char buf[32];
    snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
    name = buf;
  }
  std::string msg = "HSM " + std::string(what) + " failed: " + name;
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_PIN_LEN_RANGE:
      return Status::PermissionDenied(msg);
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_COUNT:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return Status::Unavailable(msg);
    default:
      return Status::Internal(msg);
  }
}

StatusOr<std::unique_ptr<Module>> Module::Load(
    const std::string& name_or_path) {
  CK_FUNCTION_LIST* chosen = nullptr;
  if (name_or_path.find('/') != std::string::npos) {
    chosen = p11_kit_module_load(name_or_path.c_str(), 0);
    if (chosen == nullptr) {
      const char* why = p11_kit_message();
      return Status::InvalidArgument("cannot load PKCS#11 module " +
                                     name_or_path + ": " +
                                     (why ? why : "unknown error"));
    }
  } else {
    CK_FUNCTION_LIST** all = p11_kit_modules_load(nullptr, 0);
    if (all == nullptr) {
      return Status::InvalidArgument("cannot list p11-kit modules");
    }
    for (CK_FUNCTION_LIST** m = all; *m != nullptr; ++m) {
      char* name = p11_kit_module_get_name(*m);
      bool match = name != nullptr && name_or_path == name;
      free(name);
      if (match && chosen == nullptr) {
        chosen = *m;
      } else {
        p11_kit_module_release(*m);
      }
    }
    free(all);
    if (chosen == nullptr) {
      return Status::InvalidArgument("no p11-kit module named '" +
                                     name_or_path +
                                     "' (see `p11-kit list-modules`)");
    }
  }
  CK_RV rv = p11_kit_module_initialize(chosen);
  if (rv != CKR_OK) {
    p11_kit_module_release(chosen);
    return RvToStatus(rv, "C_Initialize");
  }
  return std::unique_ptr<Module>(new Module(chosen));
}

Module::~Module() {
  p11_kit_module_finalize(fn_);
  p11_kit_module_release(fn_);
}

StatusOr<CK_SLOT_ID> Module::FindSlot(const std::string& token_uri) const {
  UriPtr uri(p11_kit_uri_new());
  int r =
      p11_kit_uri_parse(token_uri.c_str(), P11_KIT_URI_FOR_TOKEN, uri.get());
  if (r != P11_KIT_URI_OK) {
    return Status::InvalidArgument("hsm.token is not a valid PKCS#11 URI: " +
                                   std::string(p11_kit_uri_message(r)));
  }
  CK_ULONG count = 0;
  CK_RV rv = fn_->C_GetSlotList(CK_TRUE, nullptr, &count);
  if (rv != CKR_OK) return RvToStatus(rv, "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(count);
  rv = fn_->C_GetSlotList(CK_TRUE, slots.data(), &count);
  if (rv != CKR_OK) return RvToStatus(rv, "C_GetSlotList");
  slots.resize(count);
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info;
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
    if (p11_kit_uri_match_token_info(uri.get(), &info)) return slot;
  }
  return Status::NotFound("no initialized token matches " + token_uri);
}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Close();
    fn_ = other.fn_;
    handle_ = other.handle_;
    other.fn_ = nullptr;
    other.handle_ = CK_INVALID_HANDLE;
  }
  return *this;
}

StatusOr<Session> Session::Open(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot) {
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               nullptr, nullptr, &h);
  if (rv != CKR_OK) return RvToStatus(rv, "C_OpenSession");
  return Session(fn, h);
}

void Session::Close() noexcept {
  if (fn_ != nullptr) fn_->C_CloseSession(handle_);
  fn_ = nullptr;
  handle_ = CK_INVALID_HANDLE;
}

}  // namespace authd::hsm
