// config_file.hpp - one config file in a fresh temp directory (removed afterwards), for the
// section tests: the text given follows a `hostname` line, and issues() lists what
// load_config() refused, each as "file:line: ...". Files the config names can go beside it,
// in dir().
#pragma once

#include <string>
#include <vector>

#include "relay/config/config.hpp"
#include "tests/unit/temp_dir.hpp"

namespace secmx::config::test_support {

class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text)
      : path_(dir_.write("relay.toml", "hostname = \"relay.example\"\n" + text)) {}
  const std::string& path() const { return path_; }
  const secmx::test::TempDir& dir() const { return dir_; }

  std::vector<std::string> issues() const {
    auto r = load_config(path_);
    std::vector<std::string> out;
    if (!r.ok()) {
      for (const auto& i : r.error()) out.push_back(i.to_string());
    }
    return out;
  }

 private:
  secmx::test::TempDir dir_;
  std::string path_;
};

}  // namespace secmx::config::test_support
