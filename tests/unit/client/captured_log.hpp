// captured_log.hpp - the SMTP client's log lines, captured at debug level for the duration
// of a test (restored when the object goes). Single-threaded tests only.
#pragma once

#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "relay/common/log.hpp"

namespace secmx::client {

class CapturedClientLog {
 public:
  CapturedClientLog()
      : log_(log::logger("smtp-client")),
        sink_(std::make_shared<spdlog::sinks::ostream_sink_st>(out_)),
        level_(log_->level()) {
    sink_->set_pattern("%v");
    log_->sinks().push_back(sink_);
    log_->set_level(spdlog::level::debug);
  }
  ~CapturedClientLog() {
    auto& sinks = log_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    log_->set_level(level_);
  }
  CapturedClientLog(const CapturedClientLog&) = delete;
  CapturedClientLog& operator=(const CapturedClientLog&) = delete;
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_st> sink_;
  spdlog::level::level_enum level_;
};

}  // namespace secmx::client
