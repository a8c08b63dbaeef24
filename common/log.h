// One structured line per event on stderr (journald takes it from there):
// "level=info event=... key=value ...". The level threshold is global and
// set from the config at start; filtering is one relaxed atomic load.
// Callers never pass secrets, PINs or tokens. Thread-safe: each line is one
// stdio call, which locks the stream.
#ifndef AUTHD_COMMON_LOG_H_
#define AUTHD_COMMON_LOG_H_

#include <optional>
#include <string>
#include <string_view>

namespace authd {

// kNotice: lifecycle events (listening, ready, reload, stopping) that stay
// visible at level=warn.
enum class LogLevel { kDebug, kInfo, kNotice, kWarn, kError };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// A request-supplied value made safe for one key=value field: bytes outside
// printable ASCII, spaces, quotes, '=' and '\\' become \\xNN, so no input can
// split a line or forge a field.
std::string LogSafe(std::string_view value);
// The same for the text of a msg="..." field: spaces and '=' stay readable;
// control bytes, quotes and '\\' become \\xNN.
std::string LogText(std::string_view text);

// printf-style; `fmt` starts after the level, e.g. "event=ready kid=%s".
void Log(LogLevel level, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

}  // namespace authd

#endif  // AUTHD_COMMON_LOG_H_
