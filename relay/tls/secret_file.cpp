// secret_file.cpp - see secret_file.hpp.
#include "relay/tls/secret_file.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "relay/tls/hex.hpp"

namespace secmx::tls {

namespace {

constexpr std::size_t kSecretBytes = 32;

// The whole of `text` to `fd`, then to disk; errno's value on failure, 0 on success.
int write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<std::size_t>(n);
  }
  return ::fsync(fd) == 0 ? 0 : errno;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::strchr(" \t\r\n", s.front())) s.remove_prefix(1);
  while (!s.empty() && std::strchr(" \t\r\n", s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<bool, std::string> create_secret_file(const std::string& path,
                                             const std::optional<privileges::Account>& owner,
                                             std::string_view what) {
  auto failed = [&](int err) {
    return fail("cannot create " + std::string(what) + " " + path + ": " + std::strerror(err));
  };
  unsigned char raw[kSecretBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return fail("cannot create " + std::string(what) + " " + path +
                ": no random bytes from OpenSSL");
  }
  std::string text = lower_hex(raw, sizeof raw) + "\n";
  OPENSSL_cleanse(raw, sizeof raw);
  // O_EXCL: an existing file (or link, even a dangling one) is never touched.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    OPENSSL_cleanse(text.data(), text.size());
    if (errno == EEXIST) return false;
    return failed(errno);
  }
  // The mode asked for is subject to the umask; 0600 is what the file must have.
  int err = ::fchmod(fd, 0600) == 0 ? 0 : errno;
  if (err == 0 && owner && ::fchown(fd, owner->uid, owner->gid) != 0) err = errno;
  if (err == 0) err = write_all(fd, text);
  OPENSSL_cleanse(text.data(), text.size());
  ::close(fd);
  if (err != 0) {
    // A half-made file would fail every later start: try again next time.
    ::unlink(path.c_str());
    return failed(err);
  }
  return true;
}

Result<std::string, std::string> read_private_secret(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(path + ": " + std::strerror(errno));
  if ((st.st_mode & 0077) != 0) {
    return fail(path + ": readable by group or others (chmod 600 it)");
  }
  std::ifstream in(path);
  if (!in) return fail(path + ": " + std::strerror(errno));
  std::string line;
  std::getline(in, line);
  std::string secret(trim(line));
  OPENSSL_cleanse(line.data(), line.size());
  if (secret.empty()) return fail(path + ": empty");
  return secret;
}

}  // namespace secmx::tls
