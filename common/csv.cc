#include "common/csv.h"

namespace authd {

std::string CsvCell(std::string_view value) {
  static constexpr std::string_view kFormulaStart{"=+-@\t\r\0", 7};
  bool formula =
      !value.empty() && kFormulaStart.find(value[0]) != std::string_view::npos;
  if (!formula && value.find_first_of(",\"\n\r") == std::string_view::npos) {
    return std::string(value);
  }
  std::string out = formula ? "\"'" : "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace authd
