#include "hsm/provision.h"

#include <cstring>
#include <vector>

#include "hsm/module.h"

namespace authd::hsm {

Status InitToken(const std::string& module_name, const std::string& label,
                 const SecureString& so_pin, const SecureString& user_pin) {
  if (label.empty() || label.size() > 32) {
    return Status::InvalidArgument("token label must be 1 to 32 bytes");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Module> module, Module::Load(module_name));
  if (module->FindSlot("pkcs11:token=" + label).ok()) {
    return Status::AlreadyExists("a token labelled " + label + " exists");
  }
  CK_FUNCTION_LIST* fn = module->fn();
  CK_ULONG count = 0;
  RETURN_IF_ERROR(
      RvToStatus(fn->C_GetSlotList(CK_TRUE, nullptr, &count), "C_GetSlotList"));
  std::vector<CK_SLOT_ID> slots(count);
  RETURN_IF_ERROR(RvToStatus(fn->C_GetSlotList(CK_TRUE, slots.data(), &count),
                             "C_GetSlotList"));
  for (CK_SLOT_ID slot : slots) {
    CK_TOKEN_INFO info;
    if (fn->C_GetTokenInfo(slot, &info) != CKR_OK ||
        (info.flags & CKF_TOKEN_INITIALIZED)) {
      continue;
    }
    CK_UTF8CHAR padded[32];
    memset(padded, ' ', sizeof padded);  // PKCS#11: blank-padded, no NUL
    memcpy(padded, label.data(), label.size());
    auto pin_ptr = [](const SecureString& s) {
      return reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(s.data()));
    };
    RETURN_IF_ERROR(RvToStatus(
        fn->C_InitToken(slot, pin_ptr(so_pin), so_pin.size(), padded),
        "C_InitToken"));
    ASSIGN_OR_RETURN(Session s, Session::Open(fn, slot));
    RETURN_IF_ERROR(RvToStatus(
        fn->C_Login(s.handle(), CKU_SO, pin_ptr(so_pin), so_pin.size()),
        "C_Login(SO)"));
    Status st = RvToStatus(
        fn->C_InitPIN(s.handle(), pin_ptr(user_pin), user_pin.size()),
        "C_InitPIN");
    fn->C_Logout(s.handle());  // this process's only session: safe here
    return st;
  }
  return Status::NotFound("the module has no uninitialized token slot");
}

}  // namespace authd::hsm
