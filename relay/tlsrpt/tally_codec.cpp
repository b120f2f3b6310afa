#include "relay/tlsrpt/tally_codec.hpp"

namespace secmx::tlsrpt {}  // namespace secmx::tlsrpt
