// client_state.cpp - the per-state table. Pure.
#include "relay/client/client_state.hpp"

#include <array>

namespace secmx::client {
namespace {

using O = ClientOptions;

// Indexed by State; the static_assert below keeps it in step with the enum.
constexpr std::array<StateInfo, 17> kStates{{
    {"idle", "before connecting", "connect", nullptr},
    {"connecting", "while connecting", "connect", &O::connect_timeout},
    {"greeting", "waiting for the greeting", "greeting", &O::greeting_timeout},
    {"ehlo", "after EHLO", "ehlo", &O::command_timeout},
    {"helo", "after HELO", "helo", &O::command_timeout},
    {"starttls", "after STARTTLS", "starttls", &O::command_timeout},
    {"tls-handshake", "in the TLS handshake", "tls", &O::command_timeout},
    {"tls-ehlo", "after EHLO over TLS", "ehlo", &O::command_timeout},
    {"ready", "while idle", "ready", nullptr},
    {"rset", "after RSET", "rset", &O::command_timeout},
    {"mail", "after MAIL FROM", "mail", &O::command_timeout},
    {"rcpt", "after RCPT TO", "rcpt", &O::command_timeout},
    {"data", "after DATA", "data", &O::data_init_timeout},
    {"body", "while sending the message", "data", &O::data_block_timeout},
    {"dot", "after end of data", "dot", &O::data_done_timeout},
    {"quit", "after QUIT", "quit", &O::quit_timeout},
    {"closed", "after close", "closed", nullptr},
}};
static_assert(kStates.size() == static_cast<std::size_t>(State::Closed) + 1);

}  // namespace

const StateInfo& state_info(State state) { return kStates[static_cast<std::size_t>(state)]; }
const char* to_string(State state) { return state_info(state).name; }

}  // namespace secmx::client
