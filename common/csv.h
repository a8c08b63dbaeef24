// CSV output for spreadsheets and the people who open them.
#ifndef AUTHD_COMMON_CSV_H_
#define AUTHD_COMMON_CSV_H_

#include <string>
#include <string_view>

namespace authd {

// One CSV cell (RFC 4180 §2.6–2.7: quoted when it holds a comma, quote, CR
// or LF, quotes doubled). A cell a spreadsheet would read as a formula —
// one beginning with =, +, -, @, tab, CR or NUL (OWASP "CSV Injection",
// ASVS 5.0 1.2.10) — is neutralised: prefixed with a single quote and quoted.
std::string CsvCell(std::string_view value);

}  // namespace authd

#endif  // AUTHD_COMMON_CSV_H_
