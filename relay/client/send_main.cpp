// send_main.cpp - secmx-smtp-send: deliver one message file to one SMTP server through
// the relay's own client, and print what happened as JSON.
//
// For the e2e tests and for operators probing a route: every option maps onto the
// envelope the queue would hold (sender, recipients with NOTIFY/ORCPT, RET, ENVID, body
// type, SMTPUTF8, REQUIRETLS). --verify-name and --tlsa say how the server's certificate
// is checked (PKIX against those names, or DANE against those TLSA records; the verdict is
// in the JSON, it never stops the send). --messages sends the message several times over one
// connection (reuse); --connections opens several connections one after the other,
// offering each the TLS session of the one before (resumption). No DNS: the server is
// given as an address. Exit status: 0 all recipients accepted, 1 otherwise, 2 on usage
// or local errors. Single-threaded: one libuv loop on the main thread.
#include <arpa/inet.h>
#include <unistd.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "relay/client/client_json.hpp"
#include "relay/client/smtp_client.hpp"
#include "relay/common/log.hpp"
#include "relay/tls/peer_verify.hpp"
#include "relay/tls/tls_context.hpp"

namespace {

using namespace secmx;

std::string to_crlf(const std::string& in) {
  std::string out;
  out.reserve(in.size() + in.size() / 40);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  return out;
}

std::uint8_t parse_notify(const std::string& text) {
  if (text.empty()) return model::kNotifyUnset;
  std::uint8_t bits = 0;
  std::stringstream ss(text);
  std::string word;
  while (std::getline(ss, word, ',')) {
    for (char& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (word == "NEVER") bits |= model::kNotifyNever;
    else if (word == "SUCCESS") bits |= model::kNotifySuccess;
    else if (word == "FAILURE") bits |= model::kNotifyFailure;
    else if (word == "DELAY") bits |= model::kNotifyDelay;
    else throw CLI::ValidationError("--notify", "unknown NOTIFY keyword '" + word + "'");
  }
  return bits;
}

// "3 1 1 <hex>": a TLSA record in its zone-file form (RFC 6698 §2.2).
tls::DaneRecord parse_tlsa(const std::string& text) {
  std::istringstream in(text);
  unsigned usage = 256, selector = 256, mtype = 256;
  std::string hex, rest;
  in >> usage >> selector >> mtype >> hex;
  if (!in || usage > 255 || selector > 255 || mtype > 255 || (in >> rest) || hex.empty() ||
      hex.size() % 2 != 0) {
    throw CLI::ValidationError("--tlsa", "expected 'USAGE SELECTOR MTYPE HEX', got '" + text + "'");
  }
  tls::DaneRecord r{static_cast<std::uint8_t>(usage), static_cast<std::uint8_t>(selector),
                    static_cast<std::uint8_t>(mtype), {}};
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    std::uint8_t byte = 0;
    auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, byte, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) {
      throw CLI::ValidationError("--tlsa", "bad hex in '" + text + "'");
    }
    r.data.push_back(byte);
  }
  return r;
}

struct Run {
  uv_loop_t* loop = nullptr;
  client::ClientOptions options;
  sockaddr_storage addr{};
  std::string host;
  std::optional<tls::PeerVerify> verify;  // unset: the client's default (host by PKIX)
  bool starttls = true;
  int connections = 1;
  int messages = 1;
  model::Envelope envelope;
  std::string body;
  client::MessageSpec spec;

  int conn_index = 0;
  int msg_index = 0;
  bool all_delivered = true;
  tls::SslSessionPtr saved;  // the last session, offered for resumption
  std::unique_ptr<client::SmtpClient> client;
  nlohmann::json out = {{"connections", nlohmann::json::array()}};

  nlohmann::json& current() { return out["connections"].back(); }

  void start_connection() {
    out["connections"].push_back({{"messages", nlohmann::json::array()}});
    msg_index = 0;
    client = client::SmtpClient::create(loop, options);
    if (verify) client->set_peer_verify(*verify);
    client->open(reinterpret_cast<const sockaddr*>(&addr), host, starttls, tls::share(saved.get()),
                 [this](client::SessionInfo info) { on_open(std::move(info)); });
  }

  void on_open(client::SessionInfo info) {
    current()["session"] = client::to_json(info);
    if (info.status != client::OpenStatus::Ok) {
      all_delivered = false;
      end_connection();
      return;
    }
    send_next();
  }

  void send_next() {
    if (msg_index >= messages || !client->usable()) {
      end_connection();
      return;
    }
    client->send(spec, [this](client::MessageResult r) { on_sent(std::move(r)); });
  }

  void on_sent(client::MessageResult r) {
    bool ok = r.status == client::SendStatus::Done;
    for (const auto& rc : r.rcpts) ok = ok && rc.code >= 200 && rc.code < 300;
    all_delivered = all_delivered && ok;
    current()["messages"].push_back(client::to_json(r));
    ++msg_index;
    send_next();
  }

  void end_connection() {
    if (auto s = client->tls_session()) saved = std::move(s);
    current()["tls_session_saved"] = saved != nullptr;
    // The client is released from inside its own callback: allowed by its contract.
    client->quit([this] {
      client.reset();
      if (++conn_index < connections) start_connection();
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Send one message to one SMTP server with the secmx-relay client; prints JSON."};
  std::string connect_ip, host_name, helo, starttls = "yes", ca_file, from, file = "-";
  std::string notify, ret, envid, body_type = "7bit", log_level = "warn";
  std::vector<std::string> rcpts, orcpts, verify_names, tlsa;
  int port = 25;
  double timeout = 0;
  bool smtputf8 = false, requiretls = false;
  Run run;
  app.add_option("--connect", connect_ip, "server IP address")->required();
  app.add_option("--port", port, "server port")->check(CLI::Range(1, 65535));
  app.add_option("--host-name", host_name,
                 "the server's host name (SNI and certificate name; default: the address)");
  app.add_option("--helo", helo, "our name in EHLO (default: this host's name)");
  app.add_option("--starttls", starttls, "use STARTTLS when offered")
      ->check(CLI::IsMember({"yes", "no"}));
  app.add_option("--ca-file", ca_file, "CA bundle for verification (default: system store)");
  app.add_option("--verify-name", verify_names,
                 "a name the certificate may carry (repeatable; the first is also the SNI "
                 "name and, with --tlsa, the TLSA base domain; default: --host-name)");
  app.add_option("--tlsa", tlsa,
                 "a TLSA record 'USAGE SELECTOR MTYPE HEX' to authenticate the server by "
                 "DANE instead of PKIX (repeatable)");
  app.add_option("--from", from, "envelope sender (empty: <>)");
  app.add_option("--rcpt", rcpts, "envelope recipient (repeatable)")->required();
  app.add_option("--orcpt", orcpts,
                 "ORCPT for the --rcpt at the same position, e.g. rfc822;a@b (repeatable)");
  app.add_option("--notify", notify, "DSN NOTIFY for every recipient: NEVER or "
                                     "SUCCESS,FAILURE,DELAY");
  app.add_option("--ret", ret, "DSN RET")->check(CLI::IsMember({"FULL", "HDRS"}));
  app.add_option("--envid", envid, "DSN ENVID");
  app.add_option("--body-type", body_type, "7bit, 8bitmime or binarymime")
      ->check(CLI::IsMember({"7bit", "8bitmime", "binarymime"}));
  app.add_flag("--smtputf8", smtputf8, "the message asks for SMTPUTF8");
  app.add_flag("--requiretls", requiretls, "the message carries REQUIRETLS");
  app.add_option("--file", file, "message file, LF or CRLF lines ('-': stdin)");
  app.add_option("--messages", run.messages, "messages per connection")
      ->check(CLI::Range(1, 1000));
  app.add_option("--connections", run.connections, "connections, one after the other")
      ->check(CLI::Range(1, 100));
  app.add_option("--timeout", timeout, "seconds for every SMTP timeout (default: RFC 5321)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);

  try {
    log::init_logging(log_level, "stderr");
    run.envelope.sender = from;
    run.envelope.ret = ret == "FULL" ? model::Ret::Full
                       : ret == "HDRS" ? model::Ret::Hdrs
                                       : model::Ret::Unset;
    run.envelope.envid = envid;
    run.envelope.smtputf8 = smtputf8;
    run.envelope.requiretls = requiretls;
    run.envelope.body_type = body_type == "8bitmime"     ? model::BodyType::EightBitMime
                             : body_type == "binarymime" ? model::BodyType::BinaryMime
                                                         : model::BodyType::SevenBit;
    std::uint8_t notify_bits = parse_notify(notify);
    if (orcpts.size() > rcpts.size()) {
      std::cerr << "secmx-smtp-send: more --orcpt than --rcpt\n";
      return 2;
    }
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      model::Recipient r;
      r.address = rcpts[i];
      r.notify = notify_bits;
      if (i < orcpts.size()) r.orcpt = orcpts[i];
      run.envelope.recipients.push_back(std::move(r));
    }
    std::string raw;
    if (file == "-") {
      raw.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << "secmx-smtp-send: cannot read " << file << "\n";
        return 2;
      }
      raw.assign(std::istreambuf_iterator<char>(in), {});
    }
    run.body = run.envelope.body_type == model::BodyType::BinaryMime ? raw : to_crlf(raw);
    run.envelope.body_size = run.body.size();
    run.spec.envelope = &run.envelope;
    run.spec.body = &run.body;
    for (const auto& r : run.envelope.recipients) run.spec.recipients.push_back(&r);

    auto* a4 = reinterpret_cast<sockaddr_in*>(&run.addr);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&run.addr);
    if (uv_ip4_addr(connect_ip.c_str(), port, a4) != 0 &&
        uv_ip6_addr(connect_ip.c_str(), port, a6) != 0) {
      std::cerr << "secmx-smtp-send: --connect needs an IPv4 or IPv6 address\n";
      return 2;
    }
    run.host = host_name.empty() ? connect_ip : host_name;
    run.starttls = starttls == "yes";
    if (!verify_names.empty() || !tlsa.empty()) {
      tls::PeerVerify verify;
      verify.names = verify_names.empty() ? std::vector<std::string>{run.host} : verify_names;
      for (const auto& t : tlsa) verify.tlsa.push_back(parse_tlsa(t));
      run.verify = std::move(verify);
    }

    if (helo.empty()) {
      char name[256] = {0};
      helo = gethostname(name, sizeof name - 1) == 0 && name[0] != '\0' ? name : "localhost";
    }
    run.options.helo_name = helo;
    if (run.starttls) {
      auto ctx = tls::TlsContext::create_client(ca_file);
      if (!ctx) {
        std::cerr << "secmx-smtp-send: " << ctx.error().message << "\n";
        return 2;
      }
      run.options.tls = ctx.value();
    }
    if (timeout > 0) {
      std::chrono::milliseconds t(static_cast<long long>(timeout * 1000));
      run.options.connect_timeout = run.options.greeting_timeout = run.options.command_timeout =
          run.options.data_init_timeout = run.options.data_block_timeout =
              run.options.data_done_timeout = run.options.quit_timeout = t;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    run.loop = &loop;
    run.start_connection();
    uv_run(&loop, UV_RUN_DEFAULT);
    run.client.reset();
    uv_run(&loop, UV_RUN_DEFAULT);  // lets an aborted connection finish closing
    if (uv_loop_close(&loop) != 0) std::cerr << "secmx-smtp-send: loop not empty at exit\n";
    run.out["delivered"] = run.all_delivered;
    std::cout << run.out.dump(2) << std::endl;
    return run.all_delivered ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "secmx-smtp-send: " << e.what() << "\n";
    return 2;
  }
}
