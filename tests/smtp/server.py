#!/usr/bin/python3
"""A loopback SMTP server for tests: saves every message it accepts as a file.

Usage: server.py --dir DIR [--port PORT] [--auth USER:PASSWORD]

Listens on 127.0.0.1 (PORT 0 picks a free one), then prints "PORT <n>" on a line of its own
to stdout, so a test knows where to connect. Each accepted message is written atomically as
DIR/<n>.eml (the DATA exactly as received, CRLF line ends) with DIR/<n>.json beside it
({"mail_from": ..., "rcpt_tos": [...]}); the .json is written first, so a test that sees the
.eml also sees its envelope. With --auth the server requires AUTH PLAIN/LOGIN (over plain
text: it is a loopback test server). Runs until SIGTERM or SIGINT, or until the process
that started it exits.

Needs Debian's python3-aiosmtpd; exits with status 3 and says so when it is missing.
"""

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:
    print("tests/smtp/server.py: python3-aiosmtpd is not installed "
          "(apt-get install python3-aiosmtpd)", file=sys.stderr)
    sys.exit(3)


def write_atomically(path, data):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class SaveToDir:
    def __init__(self, directory):
        self.directory = directory
        existing = [int(n.split(".")[0]) for n in os.listdir(directory) if n.endswith(".eml")]
        self.counter = itertools.count(max(existing, default=0) + 1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        base = os.path.join(self.directory, str(n))
        write_atomically(base + ".json", json.dumps(
            {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}).encode())
        write_atomically(base + ".eml", envelope.original_content)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", default="")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = SaveToDir(args.dir)

    smtp_kwargs = {}
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok)

        smtp_kwargs = dict(authenticator=authenticator, auth_required=True,
                           auth_require_tls=False)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, decode_data=False, **smtp_kwargs), host="127.0.0.1",
        port=args.port, reuse_address=True))
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)

    # A test that crashes never stops us: leave when our parent is gone.
    parent = os.getppid()

    def watch_parent():
        if os.getppid() != parent:
            loop.stop()
        else:
            loop.call_later(0.5, watch_parent)

    loop.call_later(0.5, watch_parent)
    loop.run_forever()
    server.close()
    loop.run_until_complete(server.wait_closed())


if __name__ == "__main__":
    main()
