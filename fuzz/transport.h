// The in-memory transport of the fuzz targets: raw HTTP/1.1 request bytes
// turned into the api::Request that HttpServer (libmicrohttpd) would hand to
// the Router, without a socket.
//
// Input format, all lines ending in "\n" or "\r\n":
//   [ "@socket" [ " " uid ] ]     the admin Unix socket (peer uid, default 0)
//   [ "@peer " address ]          the TCP peer (default 192.0.2.10)
//   method " " target [ " " version ]
//   { name ":" value }            headers
//   ""                            end of the headers
//   body                          the rest, up to 16 KiB (the server's limit)
// As libmicrohttpd does: the path is percent-decoded, query arguments are
// split on '&' and '=' and decoded with '+' as space (the last of a repeated
// name wins), header names are lower-cased and a repeated header is joined
// with ", ". Pure; thread-safe.
#ifndef AUTHD_FUZZ_TRANSPORT_H_
#define AUTHD_FUZZ_TRANSPORT_H_

#include <optional>
#include <string_view>

#include "api/http.h"

namespace authd::fuzz {

// nullopt when there is no request line.
std::optional<api::Request> ParseRawRequest(std::string_view bytes);

}  // namespace authd::fuzz

#endif  // AUTHD_FUZZ_TRANSPORT_H_
