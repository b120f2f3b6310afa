// fill_store.hpp - the queue store as the bench fill tools (secmx-queue-fill,
// secmx-audit-fill) use it: the --queue option, the relay's own LMDB store opened there, and
// each failed store call said on stderr as "<tool>: [what: ]reason", so that a tool's
// main() only chooses its exit code.
//
// One FillStore per tool run, on the main thread; the store is closed when it goes.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "queue/store.hpp"

namespace secmx::bench {

class FillStore {
 public:
  FillStore(CLI::App& app, std::string tool) : tool_(std::move(tool)) {
    app.add_option("--queue", dir_, "queue directory (created when missing)")->required();
  }

  // After the command line is parsed. False (and said why) when the store does not open.
  bool open(std::uint64_t map_size) {
    auto opened = queue::open_lmdb_store({dir_, map_size});
    if (!ok(opened)) return false;
    store_ = std::move(opened.value());
    return true;
  }

  queue::Store* operator->() const { return store_.get(); }

  // True when `r` succeeded; otherwise says why, after `what` when one is given.
  template <class R>
  bool ok(const R& r, std::string_view what = {}) const {
    if (r) return true;
    std::cerr << tool_ << ": ";
    if (!what.empty()) std::cerr << what << ": ";
    std::cerr << r.error().message << "\n";
    return false;
  }

  // Makes what was written durable (Store::sync).
  bool sync() const { return ok(store_->sync(), "sync"); }

 private:
  std::string tool_;
  std::string dir_;
  std::unique_ptr<queue::Store> store_;
};

}  // namespace secmx::bench
