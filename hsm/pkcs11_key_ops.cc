#include "hsm/pkcs11_key_ops.h"

#include "common/public_key.h"
#include "common/sha256.h"
#include "hsm/key_store.h"
#include "hsm/pin_login.h"
#include "hsm/ready_state.h"
#include "hsm/session_pool.h"
#include "hsm/supervisor.h"

namespace authd::hsm {
namespace {

// C_SignInit, then C_Sign of `input` with `key` into `out`, which holds room
// for the result and is cut to its length.
CK_RV SignOnce(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h,
               CK_MECHANISM_TYPE mechanism, CK_OBJECT_HANDLE key,
               std::string_view input, std::string* out) {
  CK_MECHANISM mech{mechanism, nullptr, 0};
  CK_RV rv = fn->C_SignInit(h, &mech, key);
  if (rv != CKR_OK) return rv;
  CK_ULONG len = out->size();
  rv =
      fn->C_Sign(h, reinterpret_cast<CK_BYTE*>(const_cast<char*>(input.data())),
                 input.size(), reinterpret_cast<CK_BYTE*>(out->data()), &len);
  if (rv == CKR_OK) out->resize(len);
  return rv;
}

}  // namespace

Pkcs11KeyOps::Pkcs11KeyOps(std::unique_ptr<Module> module, CK_SLOT_ID slot,
                           HsmOptions options)
    : op_timeout_(options.op_timeout),
      module_(std::move(module)),
      ready_(std::make_unique<ReadyState>()),
      pool_(std::make_unique<SessionPool>(
          module_->fn(), slot, options.max_sessions,
          options.session_wait.count() > 0 ? options.session_wait
                                           : options.op_timeout)),
      login_(std::make_unique<PinLogin>(module_->fn(), std::move(options.pin),
                                        ready_.get())) {}

Pkcs11KeyOps::~Pkcs11KeyOps() = default;  // see the members' order

StatusOr<std::unique_ptr<Pkcs11KeyOps>> Pkcs11KeyOps::Create(
    HsmOptions options, std::vector<std::string>* created) {
  ASSIGN_OR_RETURN(std::unique_ptr<Module> module,
                   Module::Load(options.module));
  ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->FindSlot(options.token_uri));
  std::chrono::milliseconds op_timeout = options.op_timeout;
  std::function<void()> on_fatal = std::move(options.on_fatal);
  std::unique_ptr<Pkcs11KeyOps> ops(
      new Pkcs11KeyOps(std::move(module), slot, std::move(options)));
  {
    ASSIGN_OR_RETURN(SessionLease s, ops->pool_->Lease());
    RETURN_IF_ERROR(ops->login_->Verify(s.handle()));
    ASSIGN_OR_RETURN(ops->keys_,
                     KeyStore::Open(ops->module_->fn(), s.handle(), created));
  }  // the session goes back to the pool
  ops->supervisor_ = std::make_unique<Supervisor>(
      ops->pool_.get(), ops->login_.get(), ops->keys_.get(), ops->ready_.get(),
      op_timeout, std::move(on_fatal));
  return ops;
}

Status Pkcs11KeyOps::WithSession(const Op& op, std::string_view what) const {
  if (!ready_->ready()) {
    return Status::Unavailable("HSM unavailable: " + ready_->reason());
  }
  CK_RV rv = CKR_OK;
  for (int attempt = 0; attempt < 2; ++attempt) {
    StatusOr<SessionLease> lease = pool_->Lease();
    if (!lease.ok()) {
      // No session could be opened (device gone, token absent): the HSM is
      // unusable for now. None came free in time (Busy): more work than
      // sessions, not the HSM's fault.
      if (lease.status().code() != StatusCode::kBusy) {
        ready_->MarkUnready(lease.status().message());
      }
      return lease.status();
    }
    if (!lease->abandoned()) rv = RunLoggedIn(op, lease->handle());
    // Given up on while it ran: the supervisor has turned unready and may
    // have recovered since; whatever came back is too late to use.
    if (lease->abandoned()) return Abandoned(what);
    // A session that saw an error may hold a half-finished operation
    // (CKR_OPERATION_ACTIVE next time), or is lost: close it, do not pool it.
    if (rv != CKR_OK) lease->Discard();
    if (!IsSessionLost(rv)) return RvToStatus(rv, what);
  }  // a lost session is closed here, before the second attempt leases
  Status st = RvToStatus(rv, what);
  ready_->MarkUnready(st.message());
  return st;
}

CK_RV Pkcs11KeyOps::RunLoggedIn(const Op& op, CK_SESSION_HANDLE h) const {
  std::shared_ptr<const KeyHandles> keys = keys_->Handles();
  CK_RV rv = op(h, *keys);
  if (rv == CKR_USER_NOT_LOGGED_IN && login_->LogIn(h).ok()) {
    rv = CKR_KEY_HANDLE_INVALID;  // handles die with the old login
  }
  if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
    // Object handles do not survive a logout (ours, or another user's of
    // this process, which also hides private objects until a login): log
    // in if needed, find the keys again and retry once.
    if (login_->LogIn(h).ok()) {
      if (auto fresh = keys_->Refresh(h); fresh.ok()) rv = op(h, **fresh);
    }
  }
  return rv;
}

Status Pkcs11KeyOps::Abandoned(std::string_view what) const {
  return Status::Unavailable(
      "HSM " + std::string(what) + " did not return within " +
      std::to_string(op_timeout_.count()) + " ms and was abandoned");
}

bool Pkcs11KeyOps::Ready() const { return ready_->ready(); }

std::string Pkcs11KeyOps::NotReadyReason() const { return ready_->reason(); }

PoolStats Pkcs11KeyOps::SessionStats() const { return pool_->Stats(); }

std::string Pkcs11KeyOps::FatalReason() const {
  return supervisor_ ? supervisor_->fatal() : std::string();
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

StatusOr<std::string> Pkcs11KeyOps::Sign(const Pick& pick,
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
        sig.resize(512);
        if (alg == Algorithm::kRS256) {
          return SignOnce(fn, h, CKM_SHA256_RSA_PKCS, key->handle, data, &sig);
        }
        return SignOnce(fn, h, CKM_ECDSA, key->handle, digest, &sig);
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
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles& keys) -> CK_RV {
        return SignOnce(fn, h, CKM_SHA256_HMAC, keys.pepper, data, &mac);
      },
      "C_Sign(HMAC)"));
  return mac;
}

StatusOr<std::string> Pkcs11KeyOps::Random(size_t n) const {
  std::string out(n, '\0');
  CK_FUNCTION_LIST* fn = module_->fn();
  RETURN_IF_ERROR(WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        return fn->C_GenerateRandom(h, reinterpret_cast<CK_BYTE*>(out.data()),
                                    out.size());
      },
      "C_GenerateRandom"));
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
        if (!login_->LogIn(h).ok()) return CKR_USER_NOT_LOGGED_IN;
        return keys_->ReadData(h, label, &values);
      },
      "read CKO_DATA"));
  return values;
}

Status Pkcs11KeyOps::WriteData(const std::string& label,
                               std::string_view value) const {
  return WithSession(
      [&](CK_SESSION_HANDLE h, const KeyHandles&) -> CK_RV {
        if (!login_->LogIn(h).ok()) return CKR_USER_NOT_LOGGED_IN;
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
