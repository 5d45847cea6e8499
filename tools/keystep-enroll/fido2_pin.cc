#include "tools/keystep-enroll/fido2_pin.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace keystep::enroll {
namespace {

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

PinPrompt terminal_pin_prompt(int tty) {
  return [tty](int retries) -> std::optional<std::string> {
    termios saved{};
    if (::tcgetattr(tty, &saved) != 0) return std::nullopt;
    // Quiet before the prompt shows, so nothing typed after it can be echoed or flushed.
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    if (::tcsetattr(tty, TCSAFLUSH, &quiet) != 0) return std::nullopt;
    if (!write_all(tty, "PIN of the security key (" + std::to_string(retries) + " tries left): ")) {
      ::tcsetattr(tty, TCSAFLUSH, &saved);
      return std::nullopt;
    }
    // Byte by byte, so nothing after the line is taken from the terminal.
    std::string line;
    bool ended = false;
    char c = 0;
    while (::read(tty, &c, 1) == 1) {
      if (c == '\n' || c == '\r') {
        ended = true;
        break;
      }
      line += c;
    }
    ::tcsetattr(tty, TCSAFLUSH, &saved);
    if (!ended) {
      std::fill(line.begin(), line.end(), '\0');
      return std::nullopt;
    }
    return line;
  };
}

}  // namespace keystep::enroll
