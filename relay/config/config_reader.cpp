// config_reader.cpp - Reader and Section: typed getters that collect issues (see
// config_reader.hpp). Nothing here throws; a wrong value leaves the default in place and
// adds an Issue naming the dotted key and the line it is on.
#include "relay/config/config_reader.hpp"

#include <algorithm>
#include <limits>

namespace secmx::config::detail {

void Reader::add(std::uint32_t line, std::string message) {
  issues_.push_back(Issue{file_, line, std::move(message)});
}

void Reader::add_elsewhere(Issue issue) { issues_.push_back(std::move(issue)); }

std::vector<Issue> Reader::take() {
  // The config file's own issues first, then those of the files it names, each by line.
  std::stable_sort(issues_.begin(), issues_.end(), [this](const Issue& a, const Issue& b) {
    bool a_other = a.file != file_, b_other = b.file != file_;
    return a_other != b_other ? b_other : a.line < b.line;
  });
  return std::move(issues_);
}

void Reader::warn(std::uint32_t line, std::string message) {
  warnings_.push_back(Issue{file_, line, std::move(message)});
}

std::vector<Issue> Reader::take_warnings() {
  std::stable_sort(warnings_.begin(), warnings_.end(),
                   [](const Issue& a, const Issue& b) { return a.line < b.line; });
  return std::move(warnings_);
}

std::uint32_t line_of(const toml::node& n) { return n.source().begin.line; }

Section::Section(Reader& r, const toml::table* t, std::string path)
    : r_(r), t_(t), path_(std::move(path)) {}

std::string Section::name(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  std::string s = path_;
  s += '.';
  s += key;
  return s;
}

const toml::node* Section::node(std::string_view key) const { return t_ ? t_->get(key) : nullptr; }

std::uint32_t Section::line(std::string_view key) const {
  const toml::node* n = node(key);
  return n ? line_of(*n) : 0;
}

void Section::fail(std::string_view key, std::string_view message) const {
  std::uint32_t at = line(key);
  if (at == 0 && t_) at = line_of(*t_);  // a missing key: point at its table
  r_.add(at, name(key) + ": " + std::string(message));
}

void Section::fail_at(const toml::node& at, std::string_view key, std::string_view message) const {
  r_.add(line_of(at), name(key) + ": " + std::string(message));
}

void Section::check_keys(std::initializer_list<std::string_view> known) const {
  if (!t_) return;
  for (auto&& [k, v] : *t_) {
    if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
    // The key's own position is exact even for a table header; fall back to the value.
    std::uint32_t at = k.source().begin.line;
    if (at == 0) at = line_of(v);
    r_.add(at, "unknown key '" + name(k.str()) + "'");
  }
}

Section Section::sub(std::string_view key) const {
  const toml::node* n = node(key);
  if (!n) return Section(r_, nullptr, name(key));
  if (!n->is_table()) {
    fail(key, "expected a table");
    return Section(r_, nullptr, name(key));
  }
  return Section(r_, n->as_table(), name(key));
}

bool Section::string(std::string_view key, std::string& out) const {
  const toml::node* n = node(key);
  if (!n) return false;
  if (!n->is_string()) {
    fail(key, "expected a string");
    return false;
  }
  out = n->as_string()->get();
  return true;
}

bool Section::boolean(std::string_view key, bool& out) const {
  const toml::node* n = node(key);
  if (!n) return false;
  if (!n->is_boolean()) {
    fail(key, "expected a boolean (true or false)");
    return false;
  }
  out = n->as_boolean()->get();
  return true;
}

bool Section::integer(std::string_view key, std::int64_t& out, std::int64_t lo,
                      std::int64_t hi) const {
  const toml::node* n = node(key);
  if (!n) return false;
  if (!n->is_integer()) {
    fail(key, "expected an integer");
    return false;
  }
  std::int64_t v = n->as_integer()->get();
  if (v < lo || v > hi) {
    fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return false;
  }
  out = v;
  return true;
}

bool Section::u32(std::string_view key, std::uint32_t& out, std::uint32_t lo,
                  std::uint32_t hi) const {
  std::int64_t v = 0;
  if (!integer(key, v, lo, hi)) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

bool Section::u16(std::string_view key, std::uint16_t& out, std::uint16_t lo,
                  std::uint16_t hi) const {
  std::int64_t v = 0;
  if (!integer(key, v, lo, hi)) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

bool Section::size(std::string_view key, std::uint64_t& out, std::uint64_t lo) const {
  const toml::node* n = node(key);
  if (!n) return false;
  std::optional<std::uint64_t> v;
  if (n->is_integer()) {
    std::int64_t i = n->as_integer()->get();
    if (i < 0) {
      fail(key, "invalid size " + std::to_string(i));
      return false;
    }
    v = static_cast<std::uint64_t>(i);
  } else if (n->is_string()) {
    const std::string& s = n->as_string()->get();
    v = parse_size(s);
    if (!v) {
      fail(key, "invalid size '" + s + "' (expected bytes or a unit: \"50MiB\", \"10MB\")");
      return false;
    }
  } else {
    fail(key, "expected a size (an integer or a string like \"50MiB\")");
    return false;
  }
  if (*v < lo) {
    fail(key, "must be at least " + std::to_string(lo) + " bytes");
    return false;
  }
  out = *v;
  return true;
}

bool Section::duration(std::string_view key, Duration& out, Duration lo) const {
  const toml::node* n = node(key);
  if (!n) return false;
  if (!n->is_string()) {
    fail(key, "expected a duration (a string like \"90s\" or \"5m\")");
    return false;
  }
  const std::string& s = n->as_string()->get();
  std::optional<Duration> v = parse_duration(s);
  if (!v) {
    fail(key,
         "invalid duration '" + s + "' (expected e.g. \"250ms\", \"90s\", \"5m\", \"1h\", \"5d\")");
    return false;
  }
  if (*v < lo) {
    fail(key, lo.count() <= 1 ? std::string("must be greater than zero")
                              : "must be at least " + std::to_string(lo.count()) + "ms");
    return false;
  }
  out = *v;
  return true;
}

bool Section::strings(std::string_view key, std::vector<Item>& out, bool allow_single) const {
  const toml::node* n = node(key);
  if (!n) return false;
  if (allow_single && n->is_string()) {
    out = {Item{n->as_string()->get(), line_of(*n)}};
    return true;
  }
  const std::string want =
      allow_single ? "expected a string or an array of strings" : "expected an array of strings";
  if (!n->is_array()) {
    fail(key, want);
    return false;
  }
  std::vector<Item> items;
  bool ok = true;
  for (const toml::node& e : *n->as_array()) {
    if (!e.is_string()) {
      fail_at(e, key, want);
      ok = false;
      continue;
    }
    std::uint32_t at = line_of(e);
    items.push_back(Item{e.as_string()->get(), at ? at : line_of(*n)});
  }
  if (!ok) return false;
  out = std::move(items);
  return true;
}

}  // namespace secmx::config::detail
