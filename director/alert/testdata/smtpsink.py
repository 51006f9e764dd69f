#!/usr/bin/env python3
"""A minimal SMTP server for lbd's tests (Python's smtpd is gone in 3.12):
the alert mailer's sink and the SMTP health check's server.

Usage: smtpsink.py [MODE], MODE one of:
  ok         (default) 220 greeting, 250 to HELO/EHLO, accepts mail, 221 to QUIT
  multiline  the same with multi-line (NNN-) greeting and HELO replies
  greet554   greets "554 no service" (refuses the session)
  helo550    220 greeting, then 550 to HELO
  silent     accepts and never says anything

Listens on 127.0.0.1 (an ephemeral port, printed first as "PORT <n>"), speaks
enough SMTP for a plain client (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
prints each HELO/EHLO argument it receives as "HELO <name>" and each message
received as one JSON line on stdout:
{"helo": ..., "from": ..., "to": [...], "data": "..."}.
"""
import json
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
            self.reply("220-smtpsink ready", "220-second line", "220 last line")
        else:
            self.reply("220 smtpsink ready")
        helo, sender, rcpts = "", "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            arg = line[5:] if len(line) > 5 else ""
            if verb in ("HELO", "EHLO"):
                helo = arg
                print("HELO %s" % line[5:], flush=True)
                if MODE == "helo550":
                    self.reply("550 go away")
                elif MODE == "multiline":
                    self.reply("250-smtpsink", "250 PIPELINING")
                else:
                    self.reply("250 smtpsink")
            elif verb == "MAIL":
                sender = arg.split(":", 1)[1].strip().strip("<>")
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with .")
                lines = []
                while True:
                    d = self.rfile.readline().decode("utf-8", "replace")
                    if d in ("", ".\r\n", ".\n"):
                        break
                    lines.append(d[1:] if d.startswith("..") else d)
                print(json.dumps({"helo": helo, "from": sender, "to": rcpts, "data": "".join(lines)}), flush=True)
                sender, rcpts = "", []
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
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
