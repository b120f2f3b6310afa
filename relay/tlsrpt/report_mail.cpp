#include "relay/tlsrpt/report_mail.hpp"

namespace secmx::tlsrpt {}  // namespace secmx::tlsrpt
