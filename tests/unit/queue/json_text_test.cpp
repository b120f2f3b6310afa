// json_text_test.cpp - the text writer of the audit records: JSON a parser reads back as
// written, the same bytes a JSON library's compact dump gives for valid UTF-8, and valid
// UTF-8 whatever bytes it is given.
#include "queue/json_text.hpp"

#include <random>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace secmx::queue {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonText, ObjectsArraysAndScalarsSeparatedAsJsonWantsThem) {
  std::string text;
  JsonText j(text);
  j.begin_object().field("a", "x").field("n", std::int64_t{-3}).field("u", std::uint64_t{7});
  j.key("list").begin_array().value(true).null().begin_object().end_object().end_array();
  j.key("empty").begin_array().end_array().field("f", false).key("raw").raw(R"({"k":1})");
  j.end_object();
  EXPECT_EQ(text, R"({"a":"x","n":-3,"u":7,"list":[true,null,{}],"empty":[],"f":false,"raw":{"k":1}})");
  EXPECT_TRUE(nlohmann::json::accept(text));
}

TEST(JsonText, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(as_json("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(as_json("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(as_json(std::string("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(as_json("\x7f"), "\"\x7f\"");
}

TEST(JsonText, Utf8IsKeptAndEverythingElseBecomesTheReplacementCharacter) {
  EXPECT_EQ(as_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\"");
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(as_json("a\xff" "b"), "\"a" + fffd + "b\"");
  EXPECT_EQ(as_json("\xc0\xaf"), "\"" + fffd + fffd + "\"");          // overlong '/'
  EXPECT_EQ(as_json("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\"");  // a surrogate
  EXPECT_EQ(as_json("\xf4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"");  // > U+10FFFF
  EXPECT_EQ(as_json("\xe2\x82"), "\"" + fffd + fffd + "\"");          // cut short at the end
}

// Random byte strings (biased to the bytes that matter): valid UTF-8 gives exactly what
// nlohmann's dump gives; anything gives text nlohmann parses.
TEST(JsonText, AgreesWithAJsonLibraryOnRandomStrings) {
  std::mt19937 rng(20261204);
  const std::string alphabet = std::string("a\"\\\x01\n\x7f", 6) + "\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7\xff\xed\xa0\xc0";
  for (int n = 0; n < 20000; ++n) {
    std::string s;
    int len = static_cast<int>(rng() % 12);
    for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
    std::string text = as_json(s);
    nlohmann::json back;
    ASSERT_NO_THROW(back = nlohmann::json::parse(text)) << text;
    bool valid = true;
    try {
      std::string dumped = nlohmann::json(s).dump();
    } catch (const nlohmann::json::type_error&) {
      valid = false;
    }
    if (valid) {
      EXPECT_EQ(text, nlohmann::json(s).dump());
      EXPECT_EQ(back.get<std::string>(), s);
    }
  }
}

}  // namespace
}  // namespace secmx::queue
