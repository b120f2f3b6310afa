#include "relay/tlsrpt/tlsrpt_txt.hpp"

namespace secmx::tlsrpt {}  // namespace secmx::tlsrpt
