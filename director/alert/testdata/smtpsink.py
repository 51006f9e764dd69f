#!/usr/bin/env python3
"""A minimal SMTP server for lbd's alert tests (Python's smtpd is gone in 3.12).

Listens on 127.0.0.1 (an ephemeral port, printed first as "PORT <n>"), speaks
enough SMTP for a plain client (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
and prints each message received as one JSON line on stdout:
{"helo": ..., "from": ..., "to": [...], "data": "..."}.
"""
import json
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
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
