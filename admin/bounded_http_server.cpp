// bounded_http_server.cpp - per-connection loop: read, frame, refuse or hand one request
// to cpp-httplib from memory; see the header.
#include "admin/bounded_http_server.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

namespace secmx::admin {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSlice = std::chrono::milliseconds(50);  // how soon a waiting read sees stop()
constexpr auto kLinger = std::chrono::seconds(2);
constexpr std::size_t kReadSize = 16 * 1024;

enum class Wait { Ready, Timeout, Stopped, Error };

// Waits until `fd` has `events` or `deadline` passes. A stoppable wait also gives up once
// stop() closed the listener (the loop polls it every 50 ms).
Wait wait_for(int fd, short events, Clock::time_point deadline,
              const std::atomic<socket_t>* listener) {
  for (;;) {
    if (listener && *listener == INVALID_SOCKET) return Wait::Stopped;
    auto now = Clock::now();
    if (now >= deadline) return Wait::Timeout;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                std::chrono::milliseconds(1);
    auto slice = listener ? std::min<std::chrono::milliseconds>(left, kSlice) : left;
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(slice.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Wait::Error;
    if (rc > 0) return Wait::Ready;  // POLLHUP/POLLERR included: recv/send will say
  }
}

bool send_all(int fd, std::string_view data, std::chrono::microseconds timeout) {
  while (!data.empty()) {
    if (wait_for(fd, POLLOUT, Clock::now() + timeout, nullptr) != Wait::Ready) return false;
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void address_of(int fd, bool remote, std::string& ip, int& port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((remote ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return;
  std::array<char, NI_MAXHOST> host{};
  std::array<char, NI_MAXSERV> serv{};
  if (::getnameinfo(sa, len, host.data(), host.size(), serv.data(), serv.size(),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host.data();
    port = std::atoi(serv.data());
  }
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    default: return "Error";
  }
}

std::string error_response(const FrameError& e) {
  std::string body = nlohmann::json{{"error", e.text}, {"code", e.code}}.dump() + "\n";
  return "HTTP/1.1 " + std::to_string(e.status) + " " + reason_phrase(e.status) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// Lets the client read our answer: stop sending, then read and drop what it still sends
// (no memory kept) until it closes or the linger time is up.
void linger_close(int fd, const std::atomic<socket_t>& listener) {
  ::shutdown(fd, SHUT_WR);
  std::array<char, kReadSize> sink{};
  auto until = Clock::now() + kLinger;
  while (wait_for(fd, POLLIN, until, &listener) == Wait::Ready) {
    auto n = ::recv(fd, sink.data(), sink.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
}

// One framed request, read by cpp-httplib from memory; its answer goes to the socket.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(int fd, std::string_view request, std::chrono::microseconds write_timeout)
      : fd_(fd), request_(request), write_timeout_(write_timeout) {}

  bool failed() const { return failed_; }

  bool is_readable() const override { return pos_ < request_.size(); }
  bool is_writable() const override {
    return wait_for(fd_, POLLOUT, Clock::now() + write_timeout_, nullptr) == Wait::Ready;
  }
  ssize_t read(char* ptr, size_t size) override {
    size = std::min(size, request_.size() - pos_);
    std::memcpy(ptr, request_.data() + pos_, size);
    pos_ += size;
    return static_cast<ssize_t>(size);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (failed_ || !send_all(fd_, std::string_view(ptr, size), write_timeout_)) {
      failed_ = true;
      return -1;
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  int fd_;
  std::string_view request_;
  std::size_t pos_ = 0;
  std::chrono::microseconds write_timeout_;
  bool failed_ = false;
};

}  // namespace

BoundedHttpServer::BoundedHttpServer(HttpLimits limits, RefusalObserver on_refused)
    : limits_(limits), on_refused_(std::move(on_refused)) {}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
  using std::chrono::microseconds;
  using std::chrono::seconds;
  const auto read_timeout = seconds(read_timeout_sec_) + microseconds(read_timeout_usec_);
  const auto write_timeout = microseconds(seconds(write_timeout_sec_)) + microseconds(write_timeout_usec_);
  std::string peer;
  int peer_port = 0;
  address_of(sock, true, peer, peer_port);

  std::string in;  // read, not yet framed: at most the limits plus one read
  std::array<char, kReadSize> buf{};
  bool ret = false;
  for (std::size_t served = 0; served < keep_alive_max_count_; ++served) {
    if (in.empty() &&
        wait_for(sock, POLLIN, Clock::now() + seconds(keep_alive_timeout_sec_), &svr_sock_) != Wait::Ready) {
      break;
    }
    const auto deadline = Clock::now() + read_timeout;  // for the whole request
    bool continued = false;
    bool gone = false;
    FrameResult fr;
    for (;;) {
      fr = frame_request(in, limits_);
      if (fr.state != FrameState::NeedMore) break;
      if (fr.expect_continue && !continued) {
        continued = true;
        if (!send_all(sock, "HTTP/1.1 100 Continue\r\n\r\n", write_timeout)) {
          gone = true;
          break;
        }
      }
      auto w = wait_for(sock, POLLIN, deadline, &svr_sock_);
      if (w == Wait::Timeout && !in.empty()) {
        fr.state = FrameState::Error;
        fr.error = FrameError{408, "request_timeout", "request not complete within the read timeout"};
        break;
      }
      if (w != Wait::Ready) {
        gone = true;
        break;
      }
      auto n = ::recv(sock, buf.data(), buf.size(), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        gone = true;  // closed (or reset) in the middle of a request: nobody to answer
        break;
      }
      in.append(buf.data(), static_cast<std::size_t>(n));
    }
    if (gone) break;
    if (fr.state == FrameState::Error) {
      if (on_refused_) on_refused_(peer, fr.error);
      if (send_all(sock, error_response(fr.error), write_timeout)) linger_close(sock, svr_sock_);
      break;
    }
    in.erase(0, fr.consumed);
    RequestStream strm(sock, fr.request, write_timeout);
    bool connection_closed = false;
    ret = process_request(strm, served + 1 == keep_alive_max_count_, connection_closed, nullptr);
    if (!ret || connection_closed || strm.failed()) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace secmx::admin
