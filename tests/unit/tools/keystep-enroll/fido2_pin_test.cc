// The PIN prompt on a real pseudo-terminal: the PIN is read, never echoed, and the
// terminal's settings are restored.

#include "tools/keystep-enroll/fido2_pin.h"

#include <gtest/gtest.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <future>
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
  // What the terminal shows until it shows `end` (or 5 s pass).
  std::string screen_until(const std::string& end) const {
    std::string out;
    char c = 0;
    while (!out.ends_with(end)) {
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(controller_, &fds);
      timeval wait{5, 0};
      if (::select(controller_ + 1, &fds, nullptr, nullptr, &wait) != 1) break;
      if (::read(controller_, &c, 1) != 1) break;
      out += c;
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
  auto pin = std::async(std::launch::async, terminal_pin_prompt(pty.terminal()), 5);
  // Typed once the prompt shows: what was typed before it is discarded (TCSAFLUSH).
  EXPECT_EQ(pty.screen_until(": "), "PIN of the security key (5 tries left): ");
  pty.type("12 34-pin\n");
  ASSERT_EQ(pin.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  std::optional<std::string> got = pin.get();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "12 34-pin");
  EXPECT_EQ(pty.screen_until("\n").find("34-pin"), std::string::npos);
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
  auto pin = std::async(std::launch::async, terminal_pin_prompt(pty.terminal()), 8);
  pty.screen_until(": ");
  pty.type("1234\x04");  // end of input (Ctrl-D) before Enter
  pty.type("\x04");
  ASSERT_EQ(pin.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(pin.get().has_value());
}

}  // namespace
}  // namespace keystep::enroll
