#ifndef AUTHD_AUTHD_VERSION_H_
#define AUTHD_AUTHD_VERSION_H_

namespace authd {
inline constexpr char kVersion[] = "0.1.0";
}  // namespace authd

#endif  // AUTHD_AUTHD_VERSION_H_
