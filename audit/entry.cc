#include "audit/entry.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cinttypes>
#include <cstdio>

#include "audit.pb.h"
#include "common/clock.h"
#include "common/encoding.h"

namespace authd::audit {
namespace {

std::string SerializeDeterministic(const v1::Entry& e) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    e.SerializeToCodedStream(&cos);
  }
  return out;
}

std::string FormatMicros(int64_t micros) {
  int64_t secs = micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000;
  std::string s = FormatRfc3339(secs);
  char frac[16];
  snprintf(frac, sizeof frac, ".%06" PRId64 "Z", micros - secs * 1000000);
  s.pop_back();  // 'Z'
  return s + frac;
}

}  // namespace

StatusOr<std::string> EncodeEntry(const AuditEvent& ev, uint64_t seq,
                                  int64_t time_micros,
                                  std::string_view software_version) {
  v1::Entry e;
  e.set_seq(seq);
  e.set_time_unix_micros(time_micros);
  e.set_actor(ev.actor);
  e.set_source(ev.source);
  e.set_action(ev.action);
  e.set_target(ev.target);
  for (const auto& [k, v] : ev.values) (*e.mutable_values())[k] = v;
  e.set_reason(ev.reason);
  e.set_result("success");
  e.set_software_version(std::string(software_version));
  std::string leaf = SerializeDeterministic(e);
  if (!AuditEntryJson(leaf).ok()) {
    return Status::InvalidArgument(
        "the change's audit entry holds text that is not valid UTF-8");
  }
  return leaf;
}

StatusOr<nlohmann::json> AuditEntryJson(std::string_view leaf) {
  v1::Entry e;
  if (!e.ParseFromArray(leaf.data(), static_cast<int>(leaf.size())) ||
      SerializeDeterministic(e) != leaf) {
    return Status::InvalidArgument(
        "leaf bytes are not a canonical audit.v1.Entry");
  }
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [k, v] : e.values()) values[k] = v;
  return nlohmann::json{{"seq", e.seq()},
                        {"time", FormatMicros(e.time_unix_micros())},
                        {"time_unix_micros", e.time_unix_micros()},
                        {"actor", e.actor()},
                        {"source", e.source()},
                        {"action", e.action()},
                        {"target", e.target()},
                        {"values", values},
                        {"reason", e.reason()},
                        {"result", e.result()},
                        {"software_version", e.software_version()},
                        {"leaf", Base64Encode(leaf)}};
}

}  // namespace authd::audit
