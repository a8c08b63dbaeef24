#include "hsm/key_store.h"

#include <iterator>
#include <utility>

#include "common/log.h"

namespace authd::hsm {
namespace {

// DER OID 1.2.840.10045.3.1.7 (prime256v1), the CKA_EC_PARAMS for P-256.
constexpr CK_BYTE kP256Params[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x03, 0x01, 0x07};
CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

CK_ATTRIBUTE Attr(CK_ATTRIBUTE_TYPE type, const void* value, size_t len) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), len};
}
CK_ATTRIBUTE Bool(CK_ATTRIBUTE_TYPE type, bool v) {
  return Attr(type, v ? &kTrue : &kFalse, sizeof(CK_BBOOL));
}

// Returns the one object with `label` and `cls`, or CK_INVALID_HANDLE.
StatusOr<CK_OBJECT_HANDLE> FindObject(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                                      const std::string& label,
                                      CK_OBJECT_CLASS cls) {
  CK_ATTRIBUTE tmpl[] = {Attr(CKA_CLASS, &cls, sizeof cls),
                         Attr(CKA_LABEL, label.data(), label.size())};
  CK_RV rv = fn->C_FindObjectsInit(h, tmpl, 2);
  if (rv != CKR_OK) return RvToStatus(rv, "C_FindObjectsInit");
  CK_OBJECT_HANDLE found[2];
  CK_ULONG count = 0;
  rv = fn->C_FindObjects(h, found, 2, &count);
  fn->C_FindObjectsFinal(h);
  if (rv != CKR_OK) return RvToStatus(rv, "C_FindObjects");
  if (count > 1) {
    return Status::FailedPrecondition(
        "HSM holds more than one object labelled " + label);
  }
  return count == 1 ? found[0] : CK_INVALID_HANDLE;
}

// The usages no authd key may have (SPEC "Security rules": HSM keys allow
// only their one use). Tokens default most of them to true when a template
// leaves them out (SoftHSM2: decrypt and unwrap on private keys, encrypt,
// decrypt, wrap and unwrap on secret keys), so every template names them.
struct Usage {
  CK_ATTRIBUTE_TYPE type;
  const char* name;
};
constexpr Usage kForbiddenUsages[] = {{CKA_ENCRYPT, "encrypt"},
                                      {CKA_DECRYPT, "decrypt"},
                                      {CKA_WRAP, "wrap"},
                                      {CKA_UNWRAP, "unwrap"},
                                      {CKA_DERIVE, "derive"}};

// A signing pair labelled `label`: the public half public and verify-only,
// the private half CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not
// CKA_EXTRACTABLE, sign-only (SPEC "Keys in the HSM").
Status GeneratePair(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                    const std::string& label, CK_MECHANISM_TYPE mechanism,
                    std::vector<CK_ATTRIBUTE> pub) {
  CK_MECHANISM mech{mechanism, nullptr, 0};
  for (CK_ATTRIBUTE a : {Attr(CKA_LABEL, label.data(), label.size()),
                         Attr(CKA_ID, label.data(), label.size()),
                         Bool(CKA_TOKEN, true), Bool(CKA_PRIVATE, false),
                         Bool(CKA_VERIFY, true), Bool(CKA_ENCRYPT, false),
                         Bool(CKA_WRAP, false), Bool(CKA_DERIVE, false)}) {
    pub.push_back(a);
  }
  CK_ATTRIBUTE priv[] = {
      Attr(CKA_LABEL, label.data(), label.size()),
      Attr(CKA_ID, label.data(), label.size()),
      Bool(CKA_TOKEN, true),
      Bool(CKA_PRIVATE, true),
      Bool(CKA_SENSITIVE, true),
      Bool(CKA_EXTRACTABLE, false),
      Bool(CKA_SIGN, true),
      Bool(CKA_DECRYPT, false),
      Bool(CKA_UNWRAP, false),
      Bool(CKA_DERIVE, false),
  };
  CK_OBJECT_HANDLE pub_h, priv_h;
  return RvToStatus(
      fn->C_GenerateKeyPair(h, &mech, pub.data(), pub.size(), priv,
                            std::size(priv), &pub_h, &priv_h),
      "C_GenerateKeyPair");
}

Status GenerateEcPair(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                      const std::string& label) {
  return GeneratePair(fn, h, label, CKM_EC_KEY_PAIR_GEN,
                      {Attr(CKA_EC_PARAMS, kP256Params, sizeof kP256Params)});
}

Status GenerateRsaPair(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                       const std::string& label) {
  static constexpr CK_ULONG kBits = 2048;
  static constexpr CK_BYTE kF4[] = {0x01, 0x00, 0x01};
  return GeneratePair(fn, h, label, CKM_RSA_PKCS_KEY_PAIR_GEN,
                      {Attr(CKA_MODULUS_BITS, &kBits, sizeof kBits),
                       Attr(CKA_PUBLIC_EXPONENT, kF4, sizeof kF4)});
}

Status GeneratePepper(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                      const std::string& label) {
  CK_MECHANISM mech{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_GENERIC_SECRET;
  CK_ULONG len = 32;
  CK_ATTRIBUTE tmpl[] = {
      Attr(CKA_CLASS, &cls, sizeof cls),
      Attr(CKA_KEY_TYPE, &type, sizeof type),
      Attr(CKA_VALUE_LEN, &len, sizeof len),
      Attr(CKA_LABEL, label.data(), label.size()),
      Bool(CKA_TOKEN, true),
      Bool(CKA_PRIVATE, true),
      Bool(CKA_SENSITIVE, true),
      Bool(CKA_EXTRACTABLE, false),
      Bool(CKA_SIGN, true),  // HMAC; the MAC is compared outside the HSM
      Bool(CKA_VERIFY, false),
      Bool(CKA_ENCRYPT, false),
      Bool(CKA_DECRYPT, false),
      Bool(CKA_WRAP, false),
      Bool(CKA_UNWRAP, false),
      Bool(CKA_DERIVE, false),
  };
  CK_OBJECT_HANDLE key;
  return RvToStatus(fn->C_GenerateKey(h, &mech, tmpl, std::size(tmpl), &key),
                    "C_GenerateKey");
}

// Reads CKA_EC_POINT of the public key `label`. Tokens return it DER-wrapped
// in an OCTET STRING (PKCS#11 v2.40 §2.3.3); some return the bare point.
StatusOr<PublicKey> ReadPublicKey(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                                  const std::string& label) {
  ASSIGN_OR_RETURN(CK_OBJECT_HANDLE obj,
                   FindObject(fn, h, label, CKO_PUBLIC_KEY));
  if (obj == CK_INVALID_HANDLE) {
    return Status::FailedPrecondition("HSM has a private key " + label +
                                      " but no public key beside it");
  }
  CK_KEY_TYPE type = CKK_EC;
  CK_ATTRIBUTE t = Attr(CKA_KEY_TYPE, &type, sizeof type);
  CK_RV rv = fn->C_GetAttributeValue(h, obj, &t, 1);
  if (rv != CKR_OK) return RvToStatus(rv, "C_GetAttributeValue(CKA_KEY_TYPE)");
  if (type == CKK_RSA) {
    unsigned char n[1024], e[16];
    CK_ATTRIBUTE rsa[] = {Attr(CKA_MODULUS, n, sizeof n),
                          Attr(CKA_PUBLIC_EXPONENT, e, sizeof e)};
    rv = fn->C_GetAttributeValue(h, obj, rsa, 2);
    if (rv != CKR_OK) return RvToStatus(rv, "C_GetAttributeValue(CKA_MODULUS)");
    return PublicKey::FromRsa(
        std::string_view(reinterpret_cast<char*>(n), rsa[0].ulValueLen),
        std::string_view(reinterpret_cast<char*>(e), rsa[1].ulValueLen));
  }
  unsigned char buf[128];
  CK_ATTRIBUTE a = Attr(CKA_EC_POINT, buf, sizeof buf);
  rv = fn->C_GetAttributeValue(h, obj, &a, 1);
  if (rv != CKR_OK) return RvToStatus(rv, "C_GetAttributeValue(CKA_EC_POINT)");
  std::string_view point(reinterpret_cast<char*>(buf), a.ulValueLen);
  if (point.size() == 67 && point[0] == 0x04 && point[1] == 65) {
    point.remove_prefix(2);
  }
  return PublicKey::FromEcPoint(point);
}

// Every object with `label` and `cls`.
CK_RV FindAll(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
              const std::string& label, CK_OBJECT_CLASS cls,
              std::vector<CK_OBJECT_HANDLE>* out) {
  CK_ATTRIBUTE tmpl[] = {Attr(CKA_CLASS, &cls, sizeof cls),
                         Attr(CKA_LABEL, label.data(), label.size())};
  CK_RV rv = fn->C_FindObjectsInit(h, tmpl, 2);
  if (rv != CKR_OK) return rv;
  CK_OBJECT_HANDLE batch[16];
  CK_ULONG n = 0;
  while ((rv = fn->C_FindObjects(h, batch, 16, &n)) == CKR_OK && n > 0) {
    out->insert(out->end(), batch, batch + n);
  }
  fn->C_FindObjectsFinal(h);
  return rv;
}

// The forbidden usages the objects labelled `label` allow, space-separated.
// An attribute the object's class does not have counts as not allowed.
std::string WiderUsages(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                        const std::string& label) {
  std::vector<CK_OBJECT_HANDLE> objs;
  for (CK_OBJECT_CLASS cls :
       {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY}) {
    if (FindAll(fn, h, label, cls, &objs) != CKR_OK) return "";
  }
  std::string out;
  for (const Usage& u : kForbiddenUsages) {
    for (CK_OBJECT_HANDLE obj : objs) {
      CK_BBOOL b = CK_FALSE;
      CK_ATTRIBUTE a = Attr(u.type, &b, sizeof b);
      if (fn->C_GetAttributeValue(h, obj, &a, 1) == CKR_OK && b == CK_TRUE) {
        out += (out.empty() ? "" : " ") + std::string(u.name);
        break;
      }
    }
  }
  return out;
}

// A key made by an older authd may allow more than its use: say so, once per
// key at start. It keeps working; replacing it is the operator's decision.
void ReportWiderUsages(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                       const std::string& label) {
  std::string wider = WiderUsages(fn, h, label);
  if (wider.empty()) return;
  Log(LogLevel::kWarn,
      "event=hsm_key_usage label=%s usages=\"%s\" msg=\"HSM key %s allows "
      "%s beyond its one use; it was made by an older authd\"",
      label.c_str(), wider.c_str(), label.c_str(), wider.c_str());
}

using Generator = Status (*)(CK_FUNCTION_LIST*, CK_SESSION_HANDLE,
                             const std::string&);

// The object `label` of class `cls`. When absent: generated if `created` is
// given (and the label added to it), else FailedPrecondition.
StatusOr<CK_OBJECT_HANDLE> FindOrGenerate(CK_FUNCTION_LIST* fn,
                                          CK_SESSION_HANDLE h,
                                          const std::string& label,
                                          CK_OBJECT_CLASS cls,
                                          Generator generate,
                                          std::vector<std::string>* created) {
  ASSIGN_OR_RETURN(CK_OBJECT_HANDLE found, FindObject(fn, h, label, cls));
  if (found != CK_INVALID_HANDLE) {
    if (created != nullptr) ReportWiderUsages(fn, h, label);  // at start
    return found;
  }
  if (created == nullptr) {
    return Status::FailedPrecondition("HSM key " + label + " has disappeared");
  }
  RETURN_IF_ERROR(generate(fn, h, label));
  created->push_back(label);
  return FindObject(fn, h, label, cls);
}

// The fixed keys: their handles into `keys`, their public halves into
// `token` and `audit`. `created` as for FindOrGenerate.
Status FindFixedKeys(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                     std::vector<std::string>* created, KeyHandles* keys,
                     std::optional<PublicKey>* token,
                     std::optional<PublicKey>* audit) {
  ASSIGN_OR_RETURN(keys->token_private,
                   FindOrGenerate(fn, h, kTokenKeyLabel, CKO_PRIVATE_KEY,
                                  GenerateEcPair, created));
  ASSIGN_OR_RETURN(keys->audit_private,
                   FindOrGenerate(fn, h, kAuditKeyLabel, CKO_PRIVATE_KEY,
                                  GenerateEcPair, created));
  ASSIGN_OR_RETURN(keys->pepper,
                   FindOrGenerate(fn, h, kPepperLabel, CKO_SECRET_KEY,
                                  GeneratePepper, created));
  ASSIGN_OR_RETURN(PublicKey t, ReadPublicKey(fn, h, kTokenKeyLabel));
  ASSIGN_OR_RETURN(PublicKey a, ReadPublicKey(fn, h, kAuditKeyLabel));
  token->emplace(std::move(t));
  audit->emplace(std::move(a));
  return Status::Ok();
}

}  // namespace

KeyStore::KeyStore(CK_FUNCTION_LIST* fn, PublicKey token, PublicKey audit,
                   std::shared_ptr<const KeyHandles> handles)
    : fn_(fn),
      token_public_(std::move(token)),
      audit_public_(std::move(audit)),
      handles_(std::move(handles)) {}

StatusOr<std::unique_ptr<KeyStore>> KeyStore::Open(
    CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
    std::vector<std::string>* created) {
  std::vector<std::string> made;
  auto handles = std::make_shared<KeyHandles>();
  std::optional<PublicKey> token, audit;
  RETURN_IF_ERROR(FindFixedKeys(fn, h, &made, handles.get(), &token, &audit));
  if (created) *created = made;
  return std::unique_ptr<KeyStore>(new KeyStore(
      fn, std::move(*token), std::move(*audit), std::move(handles)));
}

const PublicKey& KeyStore::Public(KeyUse use) const {
  return use == KeyUse::kToken ? token_public_ : audit_public_;
}

std::shared_ptr<const KeyHandles> KeyStore::Handles() const {
  return handles_.load();
}

StatusOr<std::shared_ptr<const KeyHandles>> KeyStore::Refresh(
    CK_SESSION_HANDLE h) {
  auto keys = std::make_shared<KeyHandles>();
  std::optional<PublicKey> token, audit;
  RETURN_IF_ERROR(FindFixedKeys(fn_, h, nullptr, keys.get(), &token, &audit));
  if (token->kid() != token_public_.kid() ||
      audit->kid() != audit_public_.kid()) {
    return Status::FailedPrecondition(
        "the HSM now holds different keys (token kid " + token->kid() +
        "); refusing to serve with them");
  }
  // Held to the store, so a key loaded meanwhile is not dropped from handles_.
  std::lock_guard<std::mutex> lock(signing_mu_);
  for (const auto& [label, kid] : signing_kids_) {
    ASSIGN_OR_RETURN(PublicKey pub, ReadPublicKey(fn_, h, label));
    if (pub.kid() != kid) {
      return Status::FailedPrecondition("the HSM now holds a different key " +
                                        label + "; refusing to serve with it");
    }
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE priv,
                     FindObject(fn_, h, label, CKO_PRIVATE_KEY));
    keys->signing[label] = {priv, pub.algorithm()};
  }
  handles_.store(keys);
  return std::shared_ptr<const KeyHandles>(std::move(keys));
}

Status KeyStore::GenerateSigningKey(CK_SESSION_HANDLE h,
                                    const std::string& label,
                                    Algorithm alg) const {
  ASSIGN_OR_RETURN(CK_OBJECT_HANDLE existing,
                   FindObject(fn_, h, label, CKO_PRIVATE_KEY));
  if (existing != CK_INVALID_HANDLE) {
    return Status::AlreadyExists("HSM key " + label + " exists already");
  }
  return alg == Algorithm::kRS256 ? GenerateRsaPair(fn_, h, label)
                                  : GenerateEcPair(fn_, h, label);
}

StatusOr<PublicKey> KeyStore::LoadSigningKey(CK_SESSION_HANDLE h,
                                             const std::string& label) {
  ASSIGN_OR_RETURN(CK_OBJECT_HANDLE priv,
                   FindObject(fn_, h, label, CKO_PRIVATE_KEY));
  if (priv == CK_INVALID_HANDLE) {
    return Status::NotFound("the HSM has no key " + label);
  }
  ASSIGN_OR_RETURN(PublicKey pub, ReadPublicKey(fn_, h, label));
  std::lock_guard<std::mutex> lock(signing_mu_);
  if (!signing_kids_.contains(label) && label != kTokenKeyLabel &&
      label != kAuditKeyLabel) {
    ReportWiderUsages(fn_, h, label);  // the fixed ones were, at Open
  }
  signing_kids_[label] = pub.kid();
  auto next = std::make_shared<KeyHandles>(*handles_.load());
  next->signing[label] = {priv, pub.algorithm()};
  handles_.store(std::move(next));
  return pub;
}

CK_RV KeyStore::ReadData(CK_SESSION_HANDLE h, const std::string& label,
                         std::vector<std::string>* values) const {
  values->clear();
  std::vector<CK_OBJECT_HANDLE> objs;
  CK_RV rv = FindAll(fn_, h, label, CKO_DATA, &objs);
  for (CK_OBJECT_HANDLE obj : objs) {
    if (rv != CKR_OK) break;
    CK_ATTRIBUTE a = Attr(CKA_VALUE, nullptr, 0);
    rv = fn_->C_GetAttributeValue(h, obj, &a, 1);
    if (rv != CKR_OK) break;
    std::string buf(a.ulValueLen, '\0');
    a.pValue = buf.data();
    rv = fn_->C_GetAttributeValue(h, obj, &a, 1);
    values->push_back(std::move(buf));
  }
  return rv;
}

// Data objects' CKA_VALUE is read-only on some tokens (SoftHSM2), so a write
// creates the new object first and only then destroys the old ones: at every
// instant at least one object holds a value.
CK_RV KeyStore::WriteData(CK_SESSION_HANDLE h, const std::string& label,
                          std::string_view value) const {
  std::vector<CK_OBJECT_HANDLE> old;
  CK_RV rv = FindAll(fn_, h, label, CKO_DATA, &old);
  if (rv != CKR_OK) return rv;
  CK_OBJECT_CLASS cls = CKO_DATA;
  static constexpr char kApp[] = "authd";
  CK_ATTRIBUTE tmpl[] = {
      Attr(CKA_CLASS, &cls, sizeof cls),
      Attr(CKA_LABEL, label.data(), label.size()),
      Attr(CKA_APPLICATION, kApp, sizeof kApp - 1),
      Bool(CKA_TOKEN, true),
      Bool(CKA_PRIVATE, true),
      Attr(CKA_VALUE, value.data(), value.size()),
  };
  CK_OBJECT_HANDLE created;
  rv = fn_->C_CreateObject(h, tmpl, std::size(tmpl), &created);
  if (rv != CKR_OK) return rv;
  for (CK_OBJECT_HANDLE o : old) {
    rv = fn_->C_DestroyObject(h, o);
    if (rv != CKR_OK) return rv;
  }
  return CKR_OK;
}

CK_RV KeyStore::BoolAttribute(CK_SESSION_HANDLE h, const std::string& label,
                              CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type,
                              StatusOr<bool>* value) const {
  auto obj = FindObject(fn_, h, label, cls);
  if (!obj.ok() || *obj == CK_INVALID_HANDLE) {
    *value = Status::NotFound("no object " + label);
    return CKR_OK;
  }
  CK_BBOOL b = CK_FALSE;
  CK_ATTRIBUTE a = Attr(type, &b, sizeof b);
  CK_RV rv = fn_->C_GetAttributeValue(h, *obj, &a, 1);
  *value = b == CK_TRUE;
  return rv;
}

}  // namespace authd::hsm
