#include "hsm/pkcs11_key_ops.h"

#include <openssl/sha.h>

#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "common/sha256.h"

namespace authd::hsm {
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
    ASSIGN_OR_RETURN(ops->keys_,
                     KeyStore::Open(ops->module_->fn(), s.handle(), created));
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

Status Pkcs11KeyOps::WithSession(
    const std::function<CK_RV(CK_SESSION_HANDLE, const KeyHandles&)>& op,
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
    std::shared_ptr<const KeyHandles> keys = keys_->Handles();
    rv = op(s.handle(), *keys);
    if (rv == CKR_USER_NOT_LOGGED_IN && Login(s.handle()).ok()) {
      rv = CKR_KEY_HANDLE_INVALID;  // handles die with the old login
    }
    if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
      // Object handles do not survive a logout (ours, or another user's of
      // this process, which also hides private objects until a login): log
      // in if needed, find the keys again and retry once.
      if (Login(s.handle()).ok()) {
        if (auto fresh = keys_->Refresh(s.handle()); fresh.ok()) {
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
  if (st.ok()) st = keys_->Refresh(s.handle()).status();
  if (!st.ok()) s.Discard();
  return st;
}

StatusOr<std::string> Pkcs11KeyOps::SignEs256(KeyUse use,
                                              std::string_view data) const {
  return Sign(
      [use](const KeyHandles& keys) -> std::optional<SigningHandle> {
        return SigningHandle{
            use == KeyUse::kToken ? keys.token_private : keys.audit_private,
            Algorithm::kES256};
      },
      data);
}

StatusOr<std::string> Pkcs11KeyOps::Sign(
    const std::function<std::optional<SigningHandle>(const KeyHandles&)>& pick,
    std::string_view data) const {
  std::string digest;  // ES256 signs our SHA-256 of the data
  std::string sig;
  Algorithm alg = Algorithm::kES256;
  CK_FUNCTION_LIST* fn = module_->fn();
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles& keys) -> CK_RV {
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
      [&](CK_SESSION_HANDLE h, const KeyHandles& keys) -> CK_RV {
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
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        return fn->C_GenerateRandom(h, reinterpret_cast<CK_BYTE*>(out.data()),
                                    out.size());
      },
      "C_GenerateRandom");
  if (!st.ok()) return st;
  return out;
}

const PublicKey& Pkcs11KeyOps::Public(KeyUse use) const {
  return keys_->Public(use);
}

StatusOr<std::vector<std::string>> Pkcs11KeyOps::ReadData(
    const std::string& label) const {
  std::vector<std::string> values;
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        // Private objects are invisible to a session that is not logged in,
        // which would make the head look absent: make sure first.
        if (!Login(h).ok()) return CKR_USER_NOT_LOGGED_IN;
        return keys_->ReadData(h, label, &values);
      },
      "read CKO_DATA"));
  return values;
}

Status Pkcs11KeyOps::WriteData(const std::string& label,
                               std::string_view value) const {
  return WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        if (!Login(h).ok()) return CKR_USER_NOT_LOGGED_IN;
        return keys_->WriteData(h, label, value);
      },
      "write CKO_DATA");
}

// Failures other than the session's own (the key exists, a lookup failed)
// come back in `inner`, not as a CK_RV: they are not retried.
StatusOr<PublicKey> Pkcs11KeyOps::GenerateSigningKey(const std::string& label,
                                                     Algorithm alg) const {
  Status inner = Status::Ok();
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        inner = keys_->GenerateSigningKey(h, label, alg);
        return CKR_OK;
      },
      "C_GenerateKeyPair"));
  RETURN_IF_ERROR(inner);
  return LoadSigningKey(label);
}

StatusOr<PublicKey> Pkcs11KeyOps::LoadSigningKey(
    const std::string& label) const {
  StatusOr<PublicKey> pub = Status::Internal("no session ran the lookup");
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        pub = keys_->LoadSigningKey(h, label);
        return CKR_OK;
      },
      "C_FindObjects"));
  return pub;
}

StatusOr<std::string> Pkcs11KeyOps::SignWith(const std::string& label,
                                             std::string_view data) const {
  if (!keys_->Handles()->signing.count(label)) {
    RETURN_IF_ERROR(LoadSigningKey(label).status());
  }
  return Sign(
      [&label](const KeyHandles& keys) -> std::optional<SigningHandle> {
        auto it = keys.signing.find(label);
        if (it == keys.signing.end()) return std::nullopt;
        return it->second;
      },
      data);
}

StatusOr<bool> Pkcs11KeyOps::KeyAttribute(const std::string& label,
                                          CK_OBJECT_CLASS cls,
                                          CK_ATTRIBUTE_TYPE type) const {
  StatusOr<bool> value = false;
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        return keys_->BoolAttribute(h, label, cls, type, &value);
      },
      "C_GetAttributeValue"));
  return value;
}

}  // namespace authd::hsm
