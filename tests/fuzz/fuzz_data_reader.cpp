// fuzz_data_reader.cpp - libFuzzer target for DataReader (content after DATA).
//
// The first four bytes choose the limits and where the input is cut between feed()
// calls; the rest is what the client sends after "354". The result must equal the
// byte-at-a-time model (content_model.hpp) for any cuts, the end marker must be a real
// CRLF "." CRLF, and nothing after it may be consumed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "relay/smtp/data_reader.hpp"
#include "tests/fuzz/content_model.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace secmx::smtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint64_t max_size = data[0] % 4 == 0 ? 0 : data[0];
  const std::size_t max_line = data[1] % 4 == 0 ? 0 : data[1] % 64;
  const unsigned cut_seed = static_cast<unsigned>(data[2]) << 8 | data[3];
  std::string_view in(reinterpret_cast<const char*>(data + 4), size - 4);

  model::Outcome want = model::reference(in, max_size, max_line, true);

  // Cut points derived from the seed: up to 8 pieces, plus one-byte pieces at the end.
  std::vector<std::size_t> ends = model::cut_points(in.size(), cut_seed);

  DataReader reader(max_size, max_line);
  std::string out;
  std::size_t pos = 0;
  for (std::size_t end : ends) {
    if (end < pos) continue;
    std::size_t used = reader.feed(in.substr(pos, end - pos), out);
    FUZZ_CHECK(used <= end - pos);
    pos += used;
    if (reader.done()) break;
    FUZZ_CHECK(pos == end);
  }
  FUZZ_CHECK(reader.done() == want.done);
  FUZZ_CHECK(!reader.done() || pos == want.consumed);
  FUZZ_CHECK(out == want.out);
  FUZZ_CHECK(reader.size() == want.size);
  FUZZ_CHECK(model::same_flags(reader.flags(), want.flags));
  if (reader.done()) {
    std::string_view used = in.substr(0, pos);
    FUZZ_CHECK(used == ".\r\n" ||
               (used.size() >= 5 && used.substr(used.size() - 5) == "\r\n.\r\n"));
    FUZZ_CHECK(reader.feed(in.substr(pos), out) == 0);
  }
  if (max_size != 0) FUZZ_CHECK(out.size() <= max_size);
  return 0;
}
