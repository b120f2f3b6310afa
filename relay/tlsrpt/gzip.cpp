#include "relay/tlsrpt/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

namespace secmx::tlsrpt {
namespace {

// windowBits 15 + 16: a gzip header and trailer, not zlib's (and, inflating, gzip only).
constexpr int kGzipWindow = 15 + 16;

// Feeds `data` to the stream in pieces zlib's 32-bit counters can hold, and points the
// output at `buf`; `fed` is how much of `data` the stream has been given so far.
template <std::size_t N>
void refill(z_stream& zs, const std::string& data, std::size_t& fed, char (&buf)[N]) {
  if (zs.avail_in == 0 && fed < data.size()) {
    std::size_t n = std::min<std::size_t>(data.size() - fed, 1u << 20);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + fed));
    zs.avail_in = static_cast<uInt>(n);
    fed += n;
  }
  zs.next_out = reinterpret_cast<Bytef*>(buf);
  zs.avail_out = N;
}

}  // namespace

std::string gzip(const std::string& data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindow, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    std::abort();  // only on bad parameters or no memory: a broken invariant
  }
  struct End {
    z_stream* zs;
    ~End() { deflateEnd(zs); }
  } end{&zs};

  std::string out;
  char buf[16384];
  std::size_t fed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    refill(zs, data, fed, buf);
    rc = deflate(&zs, fed == data.size() ? Z_FINISH : Z_NO_FLUSH);
    if (rc == Z_STREAM_ERROR) std::abort();  // a corrupted stream state: a broken invariant
    out.append(buf, sizeof buf - zs.avail_out);
  }
  return out;
}

Result<std::string, std::string> gunzip(const std::string& data, std::size_t max_out) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindow) != Z_OK) return fail(std::string("cannot start inflating"));
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};

  std::string out;
  char buf[16384];
  std::size_t fed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    refill(zs, data, fed, buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR) return fail(std::string("not valid gzip data"));
    if (rc == Z_MEM_ERROR) return fail(std::string("out of memory while inflating"));
    std::size_t got = sizeof buf - zs.avail_out;
    if (got > max_out - out.size()) return fail(std::string("inflated data too large"));
    out.append(buf, got);
    if (rc == Z_BUF_ERROR || (rc == Z_OK && got == 0 && zs.avail_in == 0 && fed == data.size())) {
      return fail(std::string("gzip data cut short"));
    }
  }
  if (zs.avail_in != 0 || fed != data.size()) {
    return fail(std::string("data after the gzip member"));
  }
  return out;
}

}  // namespace secmx::tlsrpt
