#!/usr/bin/env python3
"""An SMTP server process for the SMTP check's tests (a variant of
director/alert/testdata/smtpsink.py that can be told to misbehave).

Usage: smtpserver.py MODE, MODE one of:
  ok         220 greeting, 250 to HELO/EHLO, 221 to QUIT
  multiline  the same with multi-line (NNN-) greeting and HELO replies
  greet554   greets "554 no service" (refuses the session)
  helo550    220 greeting, then 550 to HELO
  silent     accepts and never says anything
Listens on 127.0.0.1 (an ephemeral port, printed first as "PORT <n>") and
prints each HELO argument it receives as "HELO <name>".
"""
import socketserver
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"


class Handler(socketserver.StreamRequestHandler):
    def reply(self, *lines):
        self.wfile.write("".join(l + "\r\n" for l in lines).encode())
        self.wfile.flush()

    def handle(self):
        if MODE == "silent":
            time.sleep(30)
            return
        if MODE == "greet554":
            self.reply("554 no service")
        elif MODE == "multiline":
            self.reply("220-smtpserver ready", "220-second line", "220 last line")
        else:
            self.reply("220 smtpserver ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("HELO", "EHLO"):
                print("HELO %s" % line[5:], flush=True)
                if MODE == "helo550":
                    self.reply("550 go away")
                elif MODE == "multiline":
                    self.reply("250-smtpserver", "250 PIPELINING")
                else:
                    self.reply("250 smtpserver")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server(("127.0.0.1", 0), Handler) as srv:
        print("PORT %d" % srv.server_address[1], flush=True)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            sys.exit(0)
