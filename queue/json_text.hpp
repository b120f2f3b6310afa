// json_text.hpp - a JSON text writer for the records written on every message (the audit
// trail's accept and outcome records): compact JSON straight into a string, without the
// tree of maps and strings a DOM builds and frees again.
//
// Keys appear in the order the caller writes them (the records put "v", "event" and
// "time" first, so that a line of the stream says what it is at once). Strings are
// escaped exactly as nlohmann's compact dump escapes them (", \, control characters);
// bytes that are not UTF-8 are replaced by U+FFFD, so the text is always valid UTF-8
// whatever a client sent. Keys are written as given: callers pass literals. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace secmx::queue {

class JsonText {
 public:
  explicit JsonText(std::string& out) : out_(out) {}

  JsonText& begin_object();
  JsonText& end_object();
  JsonText& begin_array();
  JsonText& end_array();
  JsonText& key(std::string_view name);

  JsonText& value(std::string_view s);
  JsonText& value(const char* s) { return value(std::string_view(s)); }
  JsonText& value(const std::string& s) { return value(std::string_view(s)); }
  JsonText& value(bool b);
  JsonText& value(std::int64_t n);
  JsonText& value(std::uint64_t n);
  JsonText& value(int n) { return value(static_cast<std::int64_t>(n)); }
  JsonText& value(unsigned n) { return value(static_cast<std::uint64_t>(n)); }
  JsonText& null();
  // Text that is already JSON (e.g. another JsonText's output), written as one value.
  JsonText& raw(std::string_view json);

  // key(name).value(v) in one call.
  template <typename T>
  JsonText& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

 private:
  void separate();

  std::string& out_;
  bool comma_ = false;  // the next key or array element follows a value
};

// `s` as a JSON string literal, quotes included (the escaping JsonText::value uses).
void append_json_string(std::string& out, std::string_view s);

}  // namespace secmx::queue
