#include "api/http.h"

#include <algorithm>
#include <cctype>

#include "common/encoding.h"

namespace authd::api {

std::string Request::BearerToken() const {
  const std::string* auth = Header("authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (auth == nullptr || auth->size() <= kScheme.size()) return "";
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>((*auth)[i])) != kScheme[i]) {
      return "";
    }
  }
  return auth->substr(kScheme.size());
}

bool ParseBasicCredentials(std::string_view header, SecureString* id,
                           SecureString* secret) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
      return false;
    }
  }
  std::optional<std::string> decoded =
      Base64Decode(header.substr(kScheme.size()));
  if (!decoded) return false;
  SecureString plain(*decoded);
  OPENSSL_cleanse(decoded->data(), decoded->size());
  size_t colon = plain.find(':');
  if (colon == SecureString::npos) return false;
  std::optional<SecureString> i = FormUrlDecode(plain.view().substr(0, colon));
  std::optional<SecureString> s = FormUrlDecode(plain.view().substr(colon + 1));
  if (!i || !s) return false;
  *id = std::move(*i);
  *secret = std::move(*s);
  return true;
}

bool Request::HasMediaType(std::string_view type) const {
  const std::string* ct = Header("content-type");
  if (ct == nullptr) return false;
  std::string_view v = std::string_view(*ct).substr(0, ct->find(';'));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v.size() == type.size() &&
         std::equal(v.begin(), v.end(), type.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  // Invalid UTF-8 echoed from a request is replaced, never thrown.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body.push_back('\n');
  return r;
}

Response Response::Error(int status, std::string_view error,
                         std::string_view message) {
  return Json(status, {{"error", error}, {"message", message}});
}

Response Response::OAuthError(int status, std::string_view error,
                              std::string_view description) {
  return Json(status, {{"error", error}, {"error_description", description}})
      .With("Cache-Control", "no-store");
}

Response Response::MethodNotAllowed(std::string_view allow) {
  return Error(405, "method_not_allowed",
               std::string("allowed methods: ") + std::string(allow))
      .With("Allow", std::string(allow));
}

Response Response::NotFound(std::string_view path) {
  return Error(404, "not_found", "no such endpoint: " + std::string(path));
}

Response Response::FromStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return Json(200, nlohmann::json::object());
    case StatusCode::kInvalidArgument:
      return Error(400, "invalid_request", st.message());
    case StatusCode::kNotFound:
      return Error(404, "not_found", st.message());
    case StatusCode::kAlreadyExists:
      return Error(409, "conflict", st.message());
    case StatusCode::kUnauthenticated:
      return Error(401, "unauthorized", st.message())
          .With("WWW-Authenticate", "Bearer realm=\"authd\"");
    case StatusCode::kPermissionDenied:
      return Error(403, "forbidden", st.message());
    case StatusCode::kResourceExhausted:
      return Error(429, "too_many_requests", st.message());
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnavailable:
      return Error(503, "unavailable", st.message()).With("Retry-After", "5");
    case StatusCode::kInternal:
      break;
  }
  return Error(500, "internal_error",
               "internal error; see the authd log for the request id");
}

}  // namespace authd::api
