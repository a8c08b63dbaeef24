#include "authority/instrumented_key_ops.h"

#include <chrono>

namespace authd::authority {
namespace {

const Status& StatusOf(const Status& st) { return st; }
template <typename T>
const Status& StatusOf(const StatusOr<T>& st) {
  return st.status();
}

template <typename F>
auto Timed(Metrics* m, HsmOp op, F&& f) {
  auto start = std::chrono::steady_clock::now();
  auto result = f();
  if (StatusOf(result).code() == StatusCode::kBusy) {
    m->HsmBusy(op);
    return result;
  }
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  m->Hsm(op, s, result.ok());
  return result;
}

}  // namespace

StatusOr<std::string> InstrumentedKeyOps::SignEs256(
    hsm::KeyUse use, std::string_view data) const {
  return Timed(metrics_, HsmOp::kSign,
               [&] { return inner_->SignEs256(use, data); });
}
StatusOr<std::string> InstrumentedKeyOps::SignWith(
    const std::string& label, std::string_view data) const {
  return Timed(metrics_, HsmOp::kSign,
               [&] { return inner_->SignWith(label, data); });
}
StatusOr<std::string> InstrumentedKeyOps::HmacPepper(
    std::string_view data) const {
  return Timed(metrics_, HsmOp::kHmac,
               [&] { return inner_->HmacPepper(data); });
}
StatusOr<std::string> InstrumentedKeyOps::Random(size_t n) const {
  return Timed(metrics_, HsmOp::kRandom, [&] { return inner_->Random(n); });
}
StatusOr<std::vector<std::string>> InstrumentedKeyOps::ReadData(
    const std::string& label) const {
  return Timed(metrics_, HsmOp::kData, [&] { return inner_->ReadData(label); });
}
Status InstrumentedKeyOps::WriteData(const std::string& label,
                                     std::string_view value) const {
  return Timed(metrics_, HsmOp::kData,
               [&] { return inner_->WriteData(label, value); });
}

}  // namespace authd::authority
