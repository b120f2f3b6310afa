// client_json.hpp - SessionInfo and MessageResult as JSON, for secmx-smtp-send and the
// operator's route probe. Pure; field names are part of the tools' output contract.
#pragma once

#include <nlohmann/json.hpp>

#include "relay/client/smtp_client.hpp"

namespace secmx::client {

nlohmann::json to_json(const SessionInfo& info);
nlohmann::json to_json(const MessageResult& result);

}  // namespace secmx::client
