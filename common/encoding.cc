#include "common/encoding.h"

#include <openssl/evp.h>

#include <vector>

namespace authd {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' ||
          c == '=')) {
      return std::nullopt;
    }
  }
  std::string out(3 * text.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding++;
  if (text.size() > 1 && text[text.size() - 2] == '=') padding++;
  out.resize(static_cast<size_t>(n) - padding);
  // Reject non-canonical encodings so one byte string has one text form.
  if (Base64Encode(out) != text) return std::nullopt;
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      return std::nullopt;
    }
  }
  if (s.size() % 4 == 1) return std::nullopt;
  while (s.size() % 4 != 0) s.push_back('=');
  return Base64Decode(s);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::optional<SecureString> FormUrlDecode(std::string_view text) {
  SecureString out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

std::optional<std::map<std::string, SecureString>> ParseForm(
    std::string_view body) {
  std::map<std::string, SecureString> out;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) {
      if (amp == body.size()) break;
      continue;
    }
    size_t eq = pair.find('=');
    auto name = FormUrlDecode(pair.substr(0, eq));
    auto value =
        FormUrlDecode(eq == std::string_view::npos ? std::string_view()
                                                   : pair.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    auto [it, inserted] =
        out.emplace(std::string(name->view()), std::move(*value));
    if (!inserted) return std::nullopt;
  }
  return out;
}

Status ValidatePrintable(std::string_view field, std::string_view name,
                         size_t min_chars, size_t max_chars) {
  const std::string f(field);
  size_t chars = 0;
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c, len = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1f, len = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0f, len = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07, len = 4;
    } else {
      return Status::InvalidArgument(f + " is not valid UTF-8");
    }
    if (i + len > name.size()) {
      return Status::InvalidArgument(f + " is not valid UTF-8");
    }
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(name[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return Status::InvalidArgument(f + " is not valid UTF-8");
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return Status::InvalidArgument(f + " is not valid UTF-8");
    }
    // Controls, and the invisible format characters that can disguise a
    // name in a listing (bidi overrides, zero-width, line separators).
    bool invisible = (cp >= 0x200b && cp <= 0x200f) ||
                     (cp >= 0x2028 && cp <= 0x202e) ||
                     (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || invisible) {
      return Status::InvalidArgument(f +
                                     " must contain only printable characters");
    }
    i += len;
    ++chars;
  }
  if (chars < min_chars || chars > max_chars) {
    return Status::InvalidArgument(
        f +
        (min_chars == 0 ? " must be at most " + std::to_string(max_chars)
                        : " must be " + std::to_string(min_chars) + " to " +
                              std::to_string(max_chars)) +
        " characters long");
  }
  return Status::Ok();
}

}  // namespace authd
