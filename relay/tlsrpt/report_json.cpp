#include "relay/tlsrpt/report_json.hpp"

namespace secmx::tlsrpt {}  // namespace secmx::tlsrpt
