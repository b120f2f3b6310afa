// config_paths.hpp - where the files a config file names are: relative paths are taken
// against the directory of the config file itself, never the working directory.
//
// load_config() resolves every path key once (written or default), so the rest of the
// relay only ever sees absolute paths; secmxctl uses the same two functions to find the
// token file from the relay's config. Pure string and std::filesystem work: nothing is
// opened, symbolic links are kept as written. Thread-agnostic.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "relay/config/config.hpp"

namespace secmx::config {

// The directory of `config_file`, absolute (a relative file name is taken against the
// working directory at the time of the call): "etc/relay.toml" -> "/srv/relay/etc".
inline std::string config_dir(const std::string& config_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file = fs::absolute(fs::path(config_file), ec);
  if (ec) file = fs::path(config_file);
  return file.lexically_normal().parent_path().string();
}

// `path` against `dir`; an empty or absolute path is returned unchanged. The result is
// lexically normal ("/srv/relay/etc/../var/queue" -> "/srv/relay/var/queue").
inline std::string resolve_path(const std::string& dir, const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(dir) / path).lexically_normal().string();
}

// Every key of Config that names a file or directory, with its value: for --check -v and
// for load_config()'s resolution pass. A key added to Config that names a file belongs
// here (and is read with Section::path()).
struct PathSetting {
  std::string_view key;  // "queue.path"
  std::string* value;
};
std::vector<PathSetting> path_settings(Config& cfg);
std::vector<std::pair<std::string_view, std::string>> path_settings(const Config& cfg);

}  // namespace secmx::config
