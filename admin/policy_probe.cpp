// policy_probe.cpp - the policy test endpoint's request -> MessageFacts -> answer.
#include "admin/policy_probe.hpp"

#include <vector>

#include "relay/model/envelope.hpp"
#include "relay/policy/explain.hpp"

namespace secmx::admin {

namespace {

using nlohmann::json;

// Header lines joined with CRLF, ending in CRLF, as the server hands them to the engine.
Result<std::string, std::string> header_section(const json& headers) {
  std::vector<std::string> lines;
  if (headers.is_string()) {
    std::string text = headers.get<std::string>();
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) lines.push_back(line);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  } else if (headers.is_array()) {
    for (const auto& h : headers) {
      if (!h.is_string()) return fail(std::string("headers: expected strings \"Name: value\""));
      lines.push_back(h.get<std::string>());
    }
  } else if (!headers.is_null()) {
    return fail(std::string("headers: expected a list of \"Name: value\" strings"));
  }
  std::string out;
  for (const auto& l : lines) {
    auto colon = l.find(':');
    bool continuation = !l.empty() && (l[0] == ' ' || l[0] == '\t');
    if (!continuation && (colon == std::string::npos || colon == 0)) {
      return fail("headers: \"" + l.substr(0, 80) + "\" is not \"Name: value\"");
    }
    if (l.find('\r') != std::string::npos || l.find('\n') != std::string::npos) {
      return fail(std::string("headers: a header line contains a line break"));
    }
    out += l;
    out += "\r\n";
  }
  return out;
}

std::string string_field(const json& req, const char* key) {
  auto it = req.find(key);
  return it != req.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<json, std::string> policy_test(const policy::PolicyEngine& engine, const json& request) {
  if (!request.is_object()) return fail(std::string("expected a JSON object"));
  for (const char* key : {"sender", "recipient", "client_address", "auth_user"}) {
    auto it = request.find(key);
    if (it != request.end() && !it->is_string()) return fail(std::string(key) + ": expected a string");
  }
  std::vector<model::Recipient> rcpts;
  if (auto it = request.find("recipients"); it != request.end()) {
    if (!it->is_array()) return fail(std::string("recipients: expected a list of addresses"));
    for (const auto& r : *it) {
      if (!r.is_string()) return fail(std::string("recipients: expected a list of addresses"));
      rcpts.emplace_back().address = r.get<std::string>();
    }
  }
  if (auto r = string_field(request, "recipient"); !r.empty()) {
    rcpts.emplace_back().address = r;
  }
  if (rcpts.empty()) return fail(std::string("recipient: at least one recipient is needed"));
  auto it = request.find("requiretls");
  if (it != request.end() && !it->is_boolean()) return fail(std::string("requiretls: expected true or false"));

  auto headers = header_section(request.value("headers", json()));
  if (!headers) return fail(headers.error());

  std::string sender = string_field(request, "sender");
  std::string client = string_field(request, "client_address");
  if (client.empty()) client = "127.0.0.1";
  std::string auth_user = string_field(request, "auth_user");

  policy::MessageFacts facts;
  facts.sender = sender;
  facts.recipients = &rcpts;
  facts.requiretls = it != request.end() && it->get<bool>();
  facts.client_address = client;
  facts.auth_user = auth_user;
  facts.header_section = *headers;
  auto decisions = engine.decide(facts);
  if (decisions.size() != rcpts.size()) {
    return fail(std::string("policy engine answered for ") + std::to_string(decisions.size()) +
                " of " + std::to_string(rcpts.size()) + " recipients");
  }

  json list = json::array();
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    const auto& d = decisions[i];
    list.push_back(json{{"recipient", rcpts[i].address},
                        {"policy", model::to_string(d.action)},
                        {"tls", model::to_string(d.tls)},
                        {"rule", d.reason.to_string()},
                        {"reject_text", d.reject_text}});
  }
  json out = list.front();
  out.erase("recipient");
  out["decisions"] = std::move(list);
  // How the rule engine read the message (the daemon's engine is one): the marking, its
  // level and any reason it could not be read, as `secmx-relay --explain` shows them.
  if (const auto* rules = dynamic_cast<const policy::RuleEngine*>(&engine)) {
    policy::ExplainRequest req;
    req.sender = sender;
    for (const auto& r : rcpts) req.recipients.push_back(r.address);
    req.requiretls = facts.requiretls;
    req.client_address = client;
    req.auth_user = auth_user;
    req.message = *headers;
    auto explained = json::parse(policy::render_json(policy::explain(*rules, std::move(req))),
                                 nullptr, false);
    if (explained.is_object()) {
      out["classification"] = explained["classification"];
      out["subject"] = explained["subject"];
      out["header_fields"] = explained["header_fields"];
      out["marking_invalid"] = decisions.front().marking_invalid;
      auto& steps = explained["recipients"];
      for (std::size_t i = 0; i < out["decisions"].size() && i < steps.size(); ++i) {
        out["decisions"][i]["step"] = steps[i].value("step", std::string());
        out["decisions"][i]["rule_line"] = steps[i].value("rule_line", json());
      }
    }
  }
  return out;
}

}  // namespace secmx::admin
