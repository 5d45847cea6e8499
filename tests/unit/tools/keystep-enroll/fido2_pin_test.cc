// The PIN prompt on a real pseudo-terminal: the PIN is read, never echoed, and the
// terminal's settings are restored.

#include "tools/keystep-enroll/fido2_pin.h"

#include <gtest/gtest.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <string>

namespace keystep::enroll {
namespace {

class Pty {
 public:
  Pty() { EXPECT_EQ(::openpty(&controller_, &terminal_, nullptr, nullptr, nullptr), 0); }
  ~Pty() {
    ::close(controller_);
    ::close(terminal_);
  }
  int terminal() const { return terminal_; }
  void type(const std::string& text) const {
    EXPECT_EQ(::write(controller_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  // What the terminal showed so far.
  std::string screen() const {
    std::string out;
    char buffer[256];
    for (;;) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(controller_, &fds);
      timeval wait{0, 100'000};
      if (::select(controller_ + 1, &fds, nullptr, nullptr, &wait) != 1) break;
      const ssize_t n = ::read(controller_, buffer, sizeof buffer);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int controller_ = -1;
  int terminal_ = -1;
};

TEST(Fido2PinTest, ReadsThePinWithoutEchoAndRestoresTheTerminal) {
  Pty pty;
  termios before{};
  ASSERT_EQ(::tcgetattr(pty.terminal(), &before), 0);
  ASSERT_TRUE(before.c_lflag & ECHO);
  pty.type("12 34-pin\n");
  std::optional<std::string> pin = terminal_pin_prompt(pty.terminal())(5);
  ASSERT_TRUE(pin.has_value());
  EXPECT_EQ(*pin, "12 34-pin");
  const std::string screen = pty.screen();
  EXPECT_NE(screen.find("PIN of the security key (5 tries left): "), std::string::npos);
  EXPECT_EQ(screen.find("34-pin"), std::string::npos);
  termios after{};
  ASSERT_EQ(::tcgetattr(pty.terminal(), &after), 0);
  EXPECT_TRUE(after.c_lflag & ECHO);
}

TEST(Fido2PinTest, NoTerminalOrNoLineGivesNoPin) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  EXPECT_FALSE(terminal_pin_prompt(pipe_fds[0])(8).has_value());
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);

  Pty pty;
  pty.type("1234\x04");  // end of input (Ctrl-D) before Enter
  pty.type("\x04");
  EXPECT_FALSE(terminal_pin_prompt(pty.terminal())(8).has_value());
}

}  // namespace
}  // namespace keystep::enroll
