// fuzz_chunk_checker.cpp - libFuzzer target for ChunkChecker (BDAT content).
//
// The first four bytes choose the limits and the chunk boundaries; the rest is the
// content. Whatever the chunking, the result must equal the byte-at-a-time model, and the
// content must be passed through unchanged up to the size limit.
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

  model::Outcome want = model::reference(in, max_size, max_line, false, true);

  std::vector<std::size_t> ends = model::cut_points(in.size(), cut_seed);

  ChunkChecker checker(max_size, max_line);
  std::string out;
  std::size_t pos = 0;
  for (std::size_t end : ends) {
    checker.feed(in.substr(pos, end - pos), out);
    pos = end;
  }
  checker.finish();
  FUZZ_CHECK(out == want.out);
  FUZZ_CHECK(std::string_view(out) == in.substr(0, out.size()));
  FUZZ_CHECK(checker.size() == in.size());
  FUZZ_CHECK(model::same_flags(checker.flags(), want.flags));
  return 0;
}
