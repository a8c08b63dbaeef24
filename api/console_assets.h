// The web console's static files (the repository's console/ folder), compiled
// into authd at build time by api/embed_assets.cmake: every file of that
// folder, except dotfiles, under its path relative to it ("index.html",
// "icons/x.svg"). Immutable; thread-safe.
#ifndef AUTHD_API_CONSOLE_ASSETS_H_
#define AUTHD_API_CONSOLE_ASSETS_H_

#include <span>
#include <string_view>

namespace authd::api {

struct EmbeddedFile {
  std::string_view path;  // relative to console/, '/'-separated
  std::string_view data;
};

// The files as they were when authd was built, sorted by path.
std::span<const EmbeddedFile> ConsoleAssets();

}  // namespace authd::api

#endif  // AUTHD_API_CONSOLE_ASSETS_H_
