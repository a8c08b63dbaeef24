#include "hsm/pkcs11_key_ops.h"

#include <openssl/sha.h>

#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "common/sha256.h"

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

// A signing pair labelled `label`: the public half public and verify-only,
// the private half CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not
// CKA_EXTRACTABLE, sign-only (SPEC "Keys in the HSM").
Status GeneratePair(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
                    const std::string& label, CK_MECHANISM_TYPE mechanism,
                    std::vector<CK_ATTRIBUTE> pub) {
  CK_MECHANISM mech{mechanism, nullptr, 0};
  for (CK_ATTRIBUTE a :
       {Attr(CKA_LABEL, label.data(), label.size()),
        Attr(CKA_ID, label.data(), label.size()), Bool(CKA_TOKEN, true),
        Bool(CKA_PRIVATE, false), Bool(CKA_VERIFY, true)}) {
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
      Bool(CKA_SIGN, true),
      Bool(CKA_VERIFY, true),
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

}  // namespace

Pkcs11KeyOps::Pkcs11KeyOps(std::unique_ptr<Module> module, CK_SLOT_ID slot,
                           HsmOptions options)
    : module_(std::move(module)),
      options_(std::move(options)),
      pool_(std::make_unique<SessionPool>(
          module_->fn(), slot, options_.max_sessions, options_.op_timeout)) {}

Pkcs11KeyOps::~Pkcs11KeyOps() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
}

StatusOr<std::unique_ptr<Pkcs11KeyOps>> Pkcs11KeyOps::Create(
    HsmOptions options, std::vector<std::string>* created) {
  if (options.max_sessions == 0) options.max_sessions = 1;
  ASSIGN_OR_RETURN(std::unique_ptr<Module> module,
                   Module::Load(options.module));
  ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->FindSlot(options.token_uri));
  std::unique_ptr<Pkcs11KeyOps> ops(
      new Pkcs11KeyOps(std::move(module), slot, std::move(options)));
  {
    ASSIGN_OR_RETURN(SessionLease s, ops->pool_->Lease());
    RETURN_IF_ERROR(ops->Login(s.handle(), /*verify_pin=*/true));
    std::vector<std::string> made;
    auto keys = std::make_shared<Keys>();
    RETURN_IF_ERROR(ops->FindKeys(s.handle(), &made, keys.get(),
                                  &ops->token_public_, &ops->audit_public_));
    if (created) *created = made;
    ops->keys_.store(std::move(keys));
  }  // the session goes back to the pool
  ops->supervisor_ = std::thread([p = ops.get()] { p->Supervise(); });
  return ops;
}

Status Pkcs11KeyOps::Login(CK_SESSION_HANDLE h, bool verify_pin) const {
  if (pin_rejected_) {
    return Status::PermissionDenied(
        "the HSM rejected the PIN earlier; not trying again");
  }
  CK_FUNCTION_LIST* fn = module_->fn();
  auto login = [&] {
    return fn->C_Login(
        h, CKU_USER,
        reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(options_.pin.data())),
        options_.pin.size());
  };
  CK_RV rv = login();
  if (rv == CKR_USER_ALREADY_LOGGED_IN && verify_pin) {
    // Login state is per process: another user of the token logged in, so
    // this PIN was never checked. Log out and in again to check it; other
    // users re-login on CKR_USER_NOT_LOGGED_IN.
    fn->C_Logout(h);
    rv = login();
  }
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return Status::Ok();
  Status st = RvToStatus(rv, "C_Login");
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
    pin_rejected_ = true;
    MarkUnready(st.message() +
                "; not logging in again (that would burn the PIN's retry "
                "counter): fix the PIN and restart authd");
  }
  return st;
}

Status Pkcs11KeyOps::FindKeys(CK_SESSION_HANDLE h,
                              std::vector<std::string>* created, Keys* keys,
                              std::optional<PublicKey>* token,
                              std::optional<PublicKey>* audit) const {
  CK_FUNCTION_LIST* fn = module_->fn();
  auto find = [&](const char* label, CK_OBJECT_CLASS cls, auto generate,
                  CK_OBJECT_HANDLE* out) -> Status {
    ASSIGN_OR_RETURN(*out, FindObject(fn, h, label, cls));
    if (*out != CK_INVALID_HANDLE) return Status::Ok();
    if (created == nullptr) {
      return Status::FailedPrecondition(std::string("HSM key ") + label +
                                        " has disappeared");
    }
    RETURN_IF_ERROR(generate(fn, h, label));
    created->push_back(label);
    ASSIGN_OR_RETURN(*out, FindObject(fn, h, label, cls));
    return Status::Ok();
  };
  RETURN_IF_ERROR(find(kTokenKeyLabel, CKO_PRIVATE_KEY, GenerateEcPair,
                       &keys->token_private));
  RETURN_IF_ERROR(find(kAuditKeyLabel, CKO_PRIVATE_KEY, GenerateEcPair,
                       &keys->audit_private));
  RETURN_IF_ERROR(
      find(kPepperLabel, CKO_SECRET_KEY, GeneratePepper, &keys->pepper));
  ASSIGN_OR_RETURN(PublicKey t, ReadPublicKey(fn, h, kTokenKeyLabel));
  ASSIGN_OR_RETURN(PublicKey a, ReadPublicKey(fn, h, kAuditKeyLabel));
  token->emplace(std::move(t));
  audit->emplace(std::move(a));
  return Status::Ok();
}

Status Pkcs11KeyOps::WithSession(
    const std::function<CK_RV(CK_SESSION_HANDLE, const Keys&)>& op,
    std::string_view what) const {
  if (!ready_.load()) {
    return Status::Unavailable("HSM unavailable: " + NotReadyReason());
  }
  CK_RV rv = CKR_OK;
  for (int attempt = 0; attempt < 2; ++attempt) {
    StatusOr<SessionLease> lease = pool_->Lease();
    if (!lease.ok()) {
      // No session could be opened (device gone, token absent) or none came
      // free in time (calls hung): the HSM is unusable for now.
      if (lease.status().code() == StatusCode::kUnavailable) {
        MarkUnready(lease.status().message());
      }
      return lease.status();
    }
    SessionLease& s = *lease;
    std::shared_ptr<const Keys> keys = keys_.load();
    rv = op(s.handle(), *keys);
    if (rv == CKR_USER_NOT_LOGGED_IN && Login(s.handle()).ok()) {
      rv = CKR_KEY_HANDLE_INVALID;  // handles die with the old login
    }
    if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
      // Object handles do not survive a logout (ours, or another user's of
      // this process, which also hides private objects until a login): log
      // in if needed, find the keys again and retry once.
      if (Login(s.handle()).ok()) {
        if (auto fresh = RefreshKeys(s.handle()); fresh.ok()) {
          rv = op(s.handle(), **fresh);
        }
      }
    }
    // A session that saw an error may hold a half-finished operation
    // (CKR_OPERATION_ACTIVE next time), or is lost: close it, do not pool it.
    if (rv != CKR_OK) s.Discard();
    if (!IsSessionLost(rv)) return RvToStatus(rv, what);
  }
  Status st = RvToStatus(rv, what);
  MarkUnready(st.message());
  return st;
}

StatusOr<std::shared_ptr<const Pkcs11KeyOps::Keys>> Pkcs11KeyOps::RefreshKeys(
    CK_SESSION_HANDLE h) const {
  auto keys = std::make_shared<Keys>();
  std::optional<PublicKey> token, audit;
  RETURN_IF_ERROR(FindKeys(h, nullptr, keys.get(), &token, &audit));
  if (token->kid() != token_public_->kid() ||
      audit->kid() != audit_public_->kid()) {
    return Status::FailedPrecondition(
        "the HSM now holds different keys (token kid " + token->kid() +
        "); refusing to serve with them");
  }
  // Held to the store, so a key loaded meanwhile is not dropped from keys_.
  std::lock_guard<std::mutex> lock(signing_mu_);
  for (const auto& [label, kid] : signing_kids_) {
    ASSIGN_OR_RETURN(PublicKey pub, ReadPublicKey(module_->fn(), h, label));
    if (pub.kid() != kid) {
      return Status::FailedPrecondition("the HSM now holds a different key " +
                                        label + "; refusing to serve with it");
    }
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE priv,
                     FindObject(module_->fn(), h, label, CKO_PRIVATE_KEY));
    keys->signing[label] = {priv, pub.algorithm()};
  }
  keys_.store(keys);
  return std::shared_ptr<const Keys>(std::move(keys));
}

std::pair<size_t, size_t> Pkcs11KeyOps::SessionStats() const {
  return pool_->Counts();
}

std::string Pkcs11KeyOps::NotReadyReason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return not_ready_;
}

void Pkcs11KeyOps::MarkUnready(const std::string& why) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ready_.load()) return;
    not_ready_ = why;
    ready_.store(false);
  }
  Log(LogLevel::kError, "event=hsm_unready msg=\"%s\"", why.c_str());
  cv_.notify_all();
}

bool Pkcs11KeyOps::HasHungCall(Clock::time_point now) const {
  std::optional<Clock::time_point> oldest = pool_->OldestLease();
  return oldest && now - *oldest > options_.op_timeout;
}

void Pkcs11KeyOps::Supervise() {
  using std::chrono::milliseconds;
  milliseconds backoff{100};
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, ready_.load() ? milliseconds(250) : backoff);
    if (stop_) break;
    bool hung = HasHungCall(Clock::now());
    if (ready_.load()) {
      if (hung) {
        lock.unlock();
        MarkUnready("an HSM call has not returned within " +
                    std::to_string(options_.op_timeout.count()) + " ms");
        lock.lock();
      }
      backoff = milliseconds(100);
      continue;
    }
    if (pin_rejected_ || hung) continue;  // wait: retrying cannot help now
    lock.unlock();
    Status st = Recover();
    lock.lock();
    if (st.ok()) {
      not_ready_.clear();
      ready_.store(true);
      backoff = milliseconds(100);
      Log(LogLevel::kNotice, "event=hsm_ready msg=\"HSM recovered\"");
    } else {
      not_ready_ = st.message();
      backoff = std::min(backoff * 2, milliseconds(5000));
      Log(LogLevel::kWarn, "event=hsm_recover msg=\"%s\" retry_ms=%lld",
          st.message().c_str(), static_cast<long long>(backoff.count()));
    }
  }
}

Status Pkcs11KeyOps::Recover() {
  pool_->CloseIdle();  // they may belong to a dead login
  ASSIGN_OR_RETURN(SessionLease s, pool_->Lease());
  Status st = Login(s.handle());
  if (st.ok()) st = RefreshKeys(s.handle()).status();
  if (!st.ok()) s.Discard();
  return st;
}

StatusOr<std::string> Pkcs11KeyOps::SignEs256(KeyUse use,
                                              std::string_view data) const {
  return Sign(
      [use](const Keys& keys) -> std::optional<SigningHandle> {
        return SigningHandle{
            use == KeyUse::kToken ? keys.token_private : keys.audit_private,
            Algorithm::kES256};
      },
      data);
}

StatusOr<std::string> Pkcs11KeyOps::Sign(
    const std::function<std::optional<SigningHandle>(const Keys&)>& pick,
    std::string_view data) const {
  std::string digest;  // ES256 signs our SHA-256 of the data
  std::string sig;
  Algorithm alg = Algorithm::kES256;
  CK_FUNCTION_LIST* fn = module_->fn();
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const Keys& keys) -> CK_RV {
        std::optional<SigningHandle> key = pick(keys);
        if (!key) return CKR_KEY_HANDLE_INVALID;
        alg = key->alg;
        // ES256: raw ECDSA over the digest (RFC 7518 §3.4); RS256: the token
        // hashes (RFC 7518 §3.3, RSASSA-PKCS1-v1_5 with SHA-256).
        if (alg == Algorithm::kES256 && digest.empty()) digest = Sha256(data);
        std::string_view input = alg == Algorithm::kRS256 ? data : digest;
        CK_MECHANISM mech{
            alg == Algorithm::kRS256 ? CKM_SHA256_RSA_PKCS : CKM_ECDSA, nullptr,
            0};
        CK_RV rv = fn->C_SignInit(h, &mech, key->handle);
        if (rv != CKR_OK) return rv;
        CK_ULONG len = 512;
        sig.resize(len);
        rv = fn->C_Sign(
            h, reinterpret_cast<CK_BYTE*>(const_cast<char*>(input.data())),
            input.size(), reinterpret_cast<CK_BYTE*>(sig.data()), &len);
        if (rv == CKR_OK) sig.resize(len);
        return rv;
      },
      "C_Sign"));
  if (alg == Algorithm::kRS256) return sig;
  std::string raw = EcdsaSignatureToRaw(sig, 32);
  if (raw.empty()) {
    return Status::Internal("HSM returned a malformed signature");
  }
  return raw;
}

StatusOr<std::string> Pkcs11KeyOps::HmacPepper(std::string_view data) const {
  std::string mac(32, '\0');
  CK_FUNCTION_LIST* fn = module_->fn();
  Status st = WithSession(
      [&](CK_SESSION_HANDLE h, const Keys& keys) -> CK_RV {
        CK_MECHANISM mech{CKM_SHA256_HMAC, nullptr, 0};
        CK_RV rv = fn->C_SignInit(h, &mech, keys.pepper);
        if (rv != CKR_OK) return rv;
        CK_ULONG len = mac.size();
        rv = fn->C_Sign(
            h, reinterpret_cast<CK_BYTE*>(const_cast<char*>(data.data())),
            data.size(), reinterpret_cast<CK_BYTE*>(mac.data()), &len);
        if (rv == CKR_OK) mac.resize(len);
        return rv;
      },
      "C_Sign(HMAC)");
  if (!st.ok()) return st;
  return mac;
}

StatusOr<std::string> Pkcs11KeyOps::Random(size_t n) const {
  std::string out(n, '\0');
  CK_FUNCTION_LIST* fn = module_->fn();
  Status st = WithSession(
      [&](CK_SESSION_HANDLE h, const Keys&) -> CK_RV {
        return fn->C_GenerateRandom(h, reinterpret_cast<CK_BYTE*>(out.data()),
                                    out.size());
      },
      "C_GenerateRandom");
  if (!st.ok()) return st;
  return out;
}

const PublicKey& Pkcs11KeyOps::Public(KeyUse use) const {
  return use == KeyUse::kToken ? *token_public_ : *audit_public_;
}

StatusOr<std::vector<std::string>> Pkcs11KeyOps::ReadData(
    const std::string& label) const {
  std::vector<std::string> values;
  CK_FUNCTION_LIST* fn = module_->fn();
  Status st = WithSession(
      [&](CK_SESSION_HANDLE h, const Keys&) -> CK_RV {
        values.clear();
        // Private objects are invisible to a session that is not logged in,
        // which would make the head look absent: make sure first.
        if (!Login(h).ok()) return CKR_USER_NOT_LOGGED_IN;
        std::vector<CK_OBJECT_HANDLE> objs;
        CK_RV rv = FindAll(fn, h, label, CKO_DATA, &objs);
        for (CK_OBJECT_HANDLE obj : objs) {
          if (rv != CKR_OK) break;
          CK_ATTRIBUTE a = Attr(CKA_VALUE, nullptr, 0);
          rv = fn->C_GetAttributeValue(h, obj, &a, 1);
          if (rv != CKR_OK) break;
          std::string buf(a.ulValueLen, '\0');
          a.pValue = buf.data();
          rv = fn->C_GetAttributeValue(h, obj, &a, 1);
          values.push_back(std::move(buf));
        }
        return rv;
      },
      "read CKO_DATA");
  RETURN_IF_ERROR(st);
  return values;
}

// Data objects' CKA_VALUE is read-only on some tokens (SoftHSM2), so a write
// creates the new object first and only then destroys the old ones: at every
// instant at least one object holds a value.
Status Pkcs11KeyOps::WriteData(const std::string& label,
                               std::string_view value) const {
  CK_FUNCTION_LIST* fn = module_->fn();
  return WithSession(
      [&](CK_SESSION_HANDLE h, const Keys&) -> CK_RV {
        if (!Login(h).ok()) return CKR_USER_NOT_LOGGED_IN;
        std::vector<CK_OBJECT_HANDLE> old;
        CK_RV rv = FindAll(fn, h, label, CKO_DATA, &old);
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
        rv = fn->C_CreateObject(h, tmpl, std::size(tmpl), &created);
        if (rv != CKR_OK) return rv;
        for (CK_OBJECT_HANDLE o : old) {
          rv = fn->C_DestroyObject(h, o);
          if (rv != CKR_OK) return rv;
        }
        return CKR_OK;
      },
      "write CKO_DATA");
}

StatusOr<PublicKey> Pkcs11KeyOps::GenerateSigningKey(const std::string& label,
                                                     Algorithm alg) const {
  CK_FUNCTION_LIST* fn = module_->fn();
  Status inner = Status::Ok();
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const Keys&) -> CK_RV {
        auto existing = FindObject(fn, h, label, CKO_PRIVATE_KEY);
        if (!existing.ok() || *existing != CK_INVALID_HANDLE) {
          inner = existing.ok() ? Status::AlreadyExists("HSM key " + label +
                                                        " exists already")
                                : existing.status();
          return CKR_OK;
        }
        inner = alg == Algorithm::kRS256 ? GenerateRsaPair(fn, h, label)
                                         : GenerateEcPair(fn, h, label);
        return CKR_OK;
      },
      "C_GenerateKeyPair"));
  RETURN_IF_ERROR(inner);
  return LoadSigningKey(label);
}

StatusOr<PublicKey> Pkcs11KeyOps::LoadSigningKey(
    const std::string& label) const {
  CK_FUNCTION_LIST* fn = module_->fn();
  std::optional<PublicKey> pub;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
  Status inner = Status::Ok();
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const Keys&) -> CK_RV {
        auto found = FindObject(fn, h, label, CKO_PRIVATE_KEY);
        if (!found.ok() || *found == CK_INVALID_HANDLE) {
          inner = found.ok() ? Status::NotFound("the HSM has no key " + label)
                             : found.status();
          return CKR_OK;
        }
        priv = *found;
        auto p = ReadPublicKey(fn, h, label);
        if (!p.ok()) {
          inner = p.status();
        } else {
          pub.emplace(std::move(*p));
        }
        return CKR_OK;
      },
      "C_FindObjects"));
  RETURN_IF_ERROR(inner);
  {
    std::lock_guard<std::mutex> lock(signing_mu_);
    signing_kids_[label] = pub->kid();
    auto next = std::make_shared<Keys>(*keys_.load());
    next->signing[label] = {priv, pub->algorithm()};
    keys_.store(std::move(next));
  }
  return *pub;
}

StatusOr<std::string> Pkcs11KeyOps::SignWith(const std::string& label,
                                             std::string_view data) const {
  if (!keys_.load()->signing.count(label)) {
    RETURN_IF_ERROR(LoadSigningKey(label).status());
  }
  return Sign(
      [&label](const Keys& keys) -> std::optional<SigningHandle> {
        auto it = keys.signing.find(label);
        if (it == keys.signing.end()) return std::nullopt;
        return it->second;
      },
      data);
}

StatusOr<bool> Pkcs11KeyOps::KeyAttribute(const std::string& label,
                                          CK_OBJECT_CLASS cls,
                                          CK_ATTRIBUTE_TYPE type) const {
  bool value = false;
  CK_FUNCTION_LIST* fn = module_->fn();
  Status found = Status::Ok();
  Status st = WithSession(
      [&](CK_SESSION_HANDLE h, const Keys&) -> CK_RV {
        auto obj = FindObject(fn, h, label, cls);
        if (!obj.ok() || *obj == CK_INVALID_HANDLE) {
          found = Status::NotFound("no object " + label);
          return CKR_OK;
        }
        CK_BBOOL b = CK_FALSE;
        CK_ATTRIBUTE a = Attr(type, &b, sizeof b);
        CK_RV rv = fn->C_GetAttributeValue(h, *obj, &a, 1);
        value = b == CK_TRUE;
        return rv;
      },
      "C_GetAttributeValue");
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(found);
  return value;
}

}  // namespace authd::hsm
