// client_json.cpp - JSON renderings of the client's results. Pure.
#include "relay/client/client_json.hpp"

namespace secmx::client {

nlohmann::json to_json(const SessionInfo& info) {
  const Extensions& e = info.ext;
  return nlohmann::json{
      {"status", to_string(info.status)},
      {"code", info.code},
      {"enhanced", info.enhanced},
      {"text", info.text},
      {"error", info.error},
      {"stage", info.stage},
      {"peer", info.peer},
      {"starttls_offered", info.starttls_offered},
      {"tls_attempted", info.tls_attempted},
      {"tls",
       {{"active", info.tls.active},
        {"protocol", info.tls.protocol},
        {"cipher", info.tls.cipher},
        {"peer_subject", info.tls.peer_subject},
        {"verified", info.tls.verified},
        {"verify_error", info.tls.verify_error},
        {"resumed", info.tls.resumed},
        {"dane", info.tls.dane},
        {"cert_sha256", info.tls.cert_sha256}}},
      {"ext",
       {{"esmtp", e.esmtp},
        {"pipelining", e.pipelining},
        {"starttls", e.starttls},
        {"8bitmime", e.eightbitmime},
        {"smtputf8", e.smtputf8},
        {"dsn", e.dsn},
        {"requiretls", e.requiretls},
        {"chunking", e.chunking},
        {"binarymime", e.binarymime},
        {"enhancedstatuscodes", e.enhanced},
        {"size_offered", e.size_offered},
        {"size", e.size}}},
  };
}

nlohmann::json to_json(const MessageResult& result) {
  nlohmann::json rcpts = nlohmann::json::array();
  for (const auto& r : result.rcpts) {
    rcpts.push_back({{"code", r.code}, {"enhanced", r.enhanced}, {"text", r.text}});
  }
  return nlohmann::json{
      {"status", to_string(result.status)},
      {"code", result.code},
      {"enhanced", result.enhanced},
      {"text", result.text},
      {"stage", result.stage},
      {"rcpts", rcpts},
      {"connection_usable", result.connection_usable},
      {"pipelined", result.pipelined},
      {"eightbit_downgrade", result.eightbit_downgrade},
  };
}

}  // namespace secmx::client
