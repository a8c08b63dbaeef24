#include "common/csv.h"

#include <gtest/gtest.h>

#include <string>

namespace authd {
namespace {

// RFC 4180 §2.6–2.7.
TEST(CsvCellTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvCell(""), "");
  EXPECT_EQ(CsvCell("credential.create"), "credential.create");
  EXPECT_EQ(CsvCell("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvCell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvCell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvCell("a=b+c-d@e"), "a=b+c-d@e");  // only the first character
}

// OWASP "CSV Injection", ASVS 5.0 1.2.10: no cell is read as a formula.
TEST(CsvCellTest, FormulaStartsAreNeutralised) {
  EXPECT_EQ(CsvCell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  EXPECT_EQ(CsvCell("+1"), "\"'+1\"");
  EXPECT_EQ(CsvCell("-2+3"), "\"'-2+3\"");
  EXPECT_EQ(CsvCell("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(CsvCell("\tx"), "\"'\tx\"");
  EXPECT_EQ(CsvCell("\rx"), "\"'\rx\"");
  EXPECT_EQ(CsvCell(std::string_view("\0x", 2)), std::string("\"'\0x\"", 5));
}

}  // namespace
}  // namespace authd
