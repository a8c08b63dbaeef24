#include "audit/entry.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

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
  // Floor division, without the overflow of (micros - 999999) at INT64_MIN.
  int64_t secs = micros / 1000000;
  int64_t frac_micros = micros % 1000000;
  if (frac_micros < 0) {
    secs -= 1;
    frac_micros += 1000000;
  }
  std::string s = FormatRfc3339(secs);
  char frac[16];
  snprintf(frac, sizeof frac, ".%06" PRId64 "Z", frac_micros);
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
  bool parsed;
  {
    // Invalid UTF-8 in a string field is an answer here, not a reason for
    // protobuf to print its own error line (authctl's stderr says why).
    google::protobuf::LogSilencer quiet;
    parsed = e.ParseFromArray(leaf.data(), static_cast<int>(leaf.size()));
  }
  if (!parsed || SerializeDeterministic(e) != leaf) {
    return Status::InvalidArgument(
        "leaf bytes are not a canonical audit.v1.Entry");
  }
  // A field this version does not know (or one with the wrong wire type)
  // survives the round trip above but would not be shown: bytes the
  // auditor cannot see must not pass as a verified entry.
  if (!e.GetReflection()->GetUnknownFields(e).empty()) {
    return Status::InvalidArgument(
        "leaf bytes hold fields audit.v1.Entry does not define");
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
