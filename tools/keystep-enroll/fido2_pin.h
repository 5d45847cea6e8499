#pragma once
// Asking the operator for a security key's PIN on a terminal, without echo.

#include "tools/keystep-enroll/fido2_client.h"

namespace keystep::enroll {

// A PinPrompt reading from the terminal `tty` (an open file descriptor, e.g. of /dev/tty,
// which the caller keeps open while the prompt is in use): turns echo off (discarding what
// was typed before), writes "PIN of the security key (N tries left): ", reads one line and
// restores the terminal, also when reading fails (the Enter still shows as a new line).
// Returns the line without its end; nullopt when `tty` is not a terminal or the input ends
// first.
PinPrompt terminal_pin_prompt(int tty);

}  // namespace keystep::enroll
