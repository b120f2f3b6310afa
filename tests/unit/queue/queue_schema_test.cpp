// queue_schema_test.cpp - docs/queue-schema.json and queue/envelope_json.cpp cannot drift:
// every object the code emits has exactly the members the schema lists (all of them
// required), and its values pass the schema's types, enums and patterns.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "queue/envelope_json.hpp"
#include "tests/unit/queue/queue_test_util.hpp"

namespace secmx::queue {
namespace {

using nlohmann::json;

json load_schema() {
  std::ifstream in(std::string(SECMX_SOURCE_DIR) + "/docs/queue-schema.json");
  EXPECT_TRUE(in.good()) << "docs/queue-schema.json not found";
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.insert(k);
  return keys;
}

// The subset of JSON Schema 2020-12 the file uses: $ref to its own $defs, type, enum,
// pattern, minimum, required, properties, additionalProperties: false, items, oneOf.
// problems() lists where `value` breaks `def`; empty when it passes.
class Validator {
 public:
  explicit Validator(json schema) : schema_(std::move(schema)) {}

  std::vector<std::string> problems(const json& value, const json& def,
                                    const std::string& where) const {
    std::vector<std::string> out;
    check(value, def, where, out);
    return out;
  }

 private:
  void check(const json& value, const json& def, const std::string& where,
             std::vector<std::string>& out) const {
    auto fail = [&](const std::string& what) { out.push_back(where + ": " + what); };
    if (def.contains("$ref")) {
      std::string ref = def["$ref"];
      if (ref.rfind("#/$defs/", 0) != 0 || !schema_["$defs"].contains(ref.substr(8))) {
        return fail("unknown $ref " + ref);
      }
      check(value, schema_["$defs"][ref.substr(8)], where, out);
    }
    if (def.contains("oneOf")) {
      int passing = 0;
      for (const auto& alt : def["oneOf"]) passing += problems(value, alt, where).empty() ? 1 : 0;
      if (passing != 1) fail(value.dump() + " passes " + std::to_string(passing) + " of oneOf");
    }
    if (def.contains("type") && !type_is(value, def["type"])) {
      fail(value.dump() + " is not of type " + def["type"].dump());
    }
    if (def.contains("enum")) {
      bool found = false;
      for (const auto& e : def["enum"]) found = found || e == value;
      if (!found) fail(value.dump() + " not in " + def["enum"].dump());
    }
    if (def.contains("pattern") && value.is_string()) {
      std::regex rx(def["pattern"].get<std::string>());
      if (!std::regex_search(value.get<std::string>(), rx)) fail(value.dump() + " does not match");
    }
    if (def.contains("minimum") && value.is_number() &&
        value.get<double>() < def["minimum"].get<double>()) {
      fail(value.dump() + " below the minimum");
    }
    if (def.contains("items") && value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check(value[i], def["items"], where + "[" + std::to_string(i) + "]", out);
      }
    }
    if (def.contains("properties") && value.is_object()) {
      for (const auto& [k, sub] : def["properties"].items()) {
        if (value.contains(k)) check(value[k], sub, where + "." + k, out);
      }
      for (const auto& k : def.value("required", json::array())) {
        if (!value.contains(k.get<std::string>())) fail("lacks " + k.get<std::string>());
      }
      if (def.contains("additionalProperties") && !def["additionalProperties"].get<bool>()) {
        for (const auto& k : keys_of(value)) {
          if (!def["properties"].contains(k)) fail("has " + k + ", not in the schema");
        }
      }
    }
  }

  static bool type_is(const json& v, const std::string& type) {
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer();
    if (type == "boolean") return v.is_boolean();
    if (type == "array") return v.is_array();
    if (type == "object") return v.is_object();
    if (type == "null") return v.is_null();
    return false;  // a type this test does not know fails, so that it gets taught it
  }

  json schema_;
};

std::string joined(const std::vector<std::string>& problems) {
  std::string s;
  for (const auto& p : problems) s += p + "\n";
  return s;
}

// A message with every kind of value the code can give: an untried recipient (null
// last_attempt, empty history), tried ones with attempts (with and without TLS), a
// dropped count, each enum's names.
model::Envelope full_envelope() {
  model::Envelope e = test::make_envelope(model::QueueId{0x0191A2B3C4D00007ull}, 4);
  e.recipients[0].last_attempt_us = 0;
  e.recipients[0].history.clear();
  return e;
}

TEST(QueueSchema, MembersAreExactlyTheSchemasRequiredAndProperties) {
  json schema = load_schema();
  ASSERT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
  const json& defs = schema["$defs"];
  json env = envelope_json(full_envelope());
  const json& rcpt = env["recipients"][1];
  ASSERT_FALSE(rcpt["history"].empty());
  const std::vector<std::pair<std::string, const json*>> emitted = {
      {"envelope", &env}, {"client", &env["client"]}, {"recipient", &rcpt},
      {"attempt", &rcpt["history"][0]}};
  for (const auto& [name, object] : emitted) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(defs.contains(name));
    std::set<std::string> required;
    for (const auto& k : defs[name]["required"]) required.insert(k.get<std::string>());
    EXPECT_EQ(keys_of(*object), keys_of(defs[name]["properties"]));
    EXPECT_EQ(keys_of(*object), required);
  }
  // The functions the audit records use give the same objects.
  EXPECT_EQ(recipient_json(full_envelope().recipients[1]), rcpt);
  EXPECT_EQ(attempt_json(full_envelope().recipients[1].history[0]), rcpt["history"][0]);
}

TEST(QueueSchema, ValuesPassTheSchema) {
  json schema = load_schema();
  Validator v(schema);
  model::Envelope e = full_envelope();
  auto passes = [&](const json& value, const json& def, const char* what) {
    auto problems = v.problems(value, def, what);
    EXPECT_TRUE(problems.empty()) << joined(problems);
  };
  passes(envelope_json(e), schema, "envelope");
  // Every name of every enum the recipient shows, and the envelope's.
  for (auto body : {model::BodyType::SevenBit, model::BodyType::EightBitMime,
                    model::BodyType::BinaryMime}) {
    for (auto ret : {model::Ret::Unset, model::Ret::Full, model::Ret::Hdrs}) {
      e.body_type = body;
      e.ret = ret;
      passes(envelope_json(e), schema, "envelope");
    }
  }
  model::Envelope bare;  // nothing set: empty strings, no recipients
  passes(envelope_json(bare), schema, "bare envelope");
  model::Recipient r;
  r.notify = model::kNotifySuccess | model::kNotifyFailure | model::kNotifyDelay;
  for (auto state : {model::RcptState::Pending, model::RcptState::Held,
                     model::RcptState::Delivered, model::RcptState::Failed}) {
    for (auto policy : {model::Policy::BES, model::Policy::SOS, model::Policy::HOLD}) {
      for (auto tls : {model::TlsLevel::None, model::TlsLevel::Encrypt, model::TlsLevel::Verify}) {
        r.state = state;
        r.policy = policy;
        r.tls = tls;
        passes(recipient_json(r), schema["$defs"]["recipient"], "recipient");
      }
    }
  }
  r.notify = model::kNotifyNever;
  passes(recipient_json(r), schema["$defs"]["recipient"], "recipient");
}

// The validator is not a rubber stamp: a member the schema does not know, a missing one, a
// wrong type and a value outside an enum are each found.
TEST(QueueSchema, ValidatorFindsWhatIsWrong) {
  json schema = load_schema();
  Validator v(schema);
  json good = envelope_json(full_envelope());
  auto fails = [&](const json& bad) { return !v.problems(bad, schema, "envelope").empty(); };
  EXPECT_FALSE(fails(good));
  json extra = good;
  extra["recipients"][1]["history"][0]["port"] = 25;
  EXPECT_TRUE(fails(extra));
  json missing = good;
  missing["client"].erase("helo");
  EXPECT_TRUE(fails(missing));
  json wrong_type = good;
  wrong_type["recipients"][0]["history_dropped"] = "3";
  EXPECT_TRUE(fails(wrong_type));
  json outside = good;
  outside["recipients"][0]["state"] = "bounced";
  EXPECT_TRUE(fails(outside));
  json bad_time = good;
  bad_time["recipients"][1]["history"][0]["time"] = "yesterday";
  EXPECT_TRUE(fails(bad_time));
}

}  // namespace
}  // namespace secmx::queue
