// Real IMAP and SMTP servers on 127.0.0.1 for core/tests/services_mail.rs and services_vinted.rs.
// Test-only: plaintext, one mailbox account, nothing written to disk.
//
// - IMAP: hoodiecrow-imap (IMAP4rev1 + MOVE, UIDPLUS, IDLE; MAIL_NO_MOVE=1 drops MOVE and
//   UIDPLUS; MAIL_NO_IDLE=1 drops IDLE), user MAIL_USER / MAIL_PASS, folders INBOX, Archive, Vinted. The same user may also
//   log in with SASL XOAUTH2 (with SASL-IR, as Gmail and Outlook.com offer it) and the access
//   token MAIL_TOKEN: the plugin checks the `user=…^Aauth=Bearer …^A^A` format and the token.
// - SMTP: smtp-server (nodemailer's), AUTH PLAIN/LOGIN with the password and AUTH XOAUTH2 with
//   MAIL_TOKEN, without TLS; every accepted message is kept in memory.
// - HTTP control endpoint (JSON):
//     POST /append?mailbox=INBOX[&date=ISO] body = raw RFC 5322 message → {"uid": n}
//                                          (date = INTERNALDATE, default now)
//     POST /uidvalidity?mailbox=INBOX&value=N  sets UIDVALIDITY and renumbers the UIDs from 1
//     GET  /mailbox?mailbox=INBOX          → {"uidvalidity", "messages": [{"uid","flags","raw"}]}
//     GET  /smtp                           → [{"from","to":[…],"raw"}]
//
// Prints `READY <imap port> <smtp port> <http port>` once all three listen (ports chosen by the OS).
// Exits when its standard input closes, so a killed test never leaves it running.

import http from "node:http";
import { createRequire } from "node:module";
import { SMTPServer } from "smtp-server";

const require = createRequire(import.meta.url);
const hoodiecrow = require("hoodiecrow-imap");

const USER = process.env.MAIL_USER || "ada@example.com";
const PASS = process.env.MAIL_PASS || "app-password";
const TOKEN = process.env.MAIL_TOKEN || "oauth-access-token";

const imap = hoodiecrow({
  // MAIL_NO_MOVE=1 leaves out MOVE and UIDPLUS, so clients must fall back to COPY + EXPUNGE.
  plugins: [
    ...(process.env.MAIL_NO_MOVE === "1" ? ["ID", "UNSELECT", "ENABLE"] : ["ID", "UNSELECT", "UIDPLUS", "MOVE", "ENABLE"]),
    // MAIL_NO_IDLE=1 leaves out IDLE (RFC 2177), so clients must poll.
    ...(process.env.MAIL_NO_IDLE === "1" ? [] : ["IDLE"]),
    "SASL-IR",
    "XOAUTH2",
  ],
  users: { [USER]: { password: PASS, xoauth2: { accessToken: TOKEN } } },
  storage: {
    INBOX: { messages: [], uidvalidity: 1000 },
    "": { separator: "/", folders: { Archive: { uidvalidity: 2000 }, Vinted: { uidvalidity: 3000 } } },
  },
});

// hoodiecrow 2.1.0 gets partial fetches (`BODY.PEEK[]<0.N>`) wrong in two ways: it mutates the
// query shared by all messages of one FETCH (the next messages come back empty), and it echoes
// `BODY[]<0.N>` where RFC 3501 says `BODY[]<0>`. These wrappers compute each message from a
// copy of the original range and echo only the origin octet.
const coreFetch = require("hoodiecrow-imap/lib/commands/handlers/fetch.js");
const wantedRange = new WeakMap();
for (const key of ["BODY", "BODY.PEEK"]) {
  imap.fetchHandlers[key] = (connection, message, query) => {
    if (!query.partial) return coreFetch[key](connection, message, query);
    if (!wantedRange.has(query)) wantedRange.set(query, [...query.partial]);
    const range = wantedRange.get(query);
    const value = coreFetch[key](connection, message, { ...query, partial: [...range] });
    query.partial = [range[0]];
    return value;
  };
}

const received = [];
const smtp = new SMTPServer({
  secure: false,
  allowInsecureAuth: true,
  authMethods: ["PLAIN", "LOGIN", "XOAUTH2"],
  disabledCommands: ["STARTTLS"],
  logger: false,
  size: 10 * 1024 * 1024,
  onAuth(auth, _session, callback) {
    if (auth.method === "XOAUTH2") {
      if (auth.username === USER && auth.accessToken === TOKEN) return callback(null, { user: USER });
      return callback(null, { data: { status: "401", schemes: "bearer" } });
    }
    if (auth.username === USER && auth.password === PASS) return callback(null, { user: USER });
    return callback(new Error("Invalid username or password"));
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", () => {
      received.push({
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
        to: session.envelope.rcptTo.map((r) => r.address),
        raw: Buffer.concat(chunks).toString("utf8"),
      });
      callback();
    });
  },
});

function mailbox(name) {
  const box = imap.getMailbox(name || "INBOX");
  if (!box) throw new Error(`no mailbox ${name}`);
  return box;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const send = (status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  try {
    if (req.method === "POST" && url.pathname === "/append") {
      const raw = await readBody(req);
      const date = url.searchParams.get("date");
      const when = date ? new Date(date) : new Date();
      const { message } = imap.appendMessage(mailbox(url.searchParams.get("mailbox")), [], when, raw);
      return send(200, { uid: message.uid });
    }
    if (req.method === "POST" && url.pathname === "/uidvalidity") {
      const box = mailbox(url.searchParams.get("mailbox"));
      box.uidvalidity = Number(url.searchParams.get("value"));
      box.messages.forEach((m, i) => (m.uid = i + 1));
      box.uidnext = box.messages.length + 1;
      return send(200, { uidvalidity: box.uidvalidity });
    }
    if (req.method === "GET" && url.pathname === "/mailbox") {
      const box = mailbox(url.searchParams.get("mailbox"));
      return send(200, {
        uidvalidity: box.uidvalidity,
        messages: box.messages.map((m) => ({ uid: m.uid, flags: m.flags, raw: m.raw })),
      });
    }
    if (req.method === "GET" && url.pathname === "/smtp") return send(200, received);
    send(404, { error: "not found" });
  } catch (e) {
    send(400, { error: String(e && e.message ? e.message : e) });
  }
});

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

// hoodiecrow exposes listen() but not address(): listen on its inner net.Server.
const imapPort = await listen(imap.server);
const smtpPort = await listen(smtp.server);
const httpPort = await listen(control);
console.log(`READY ${imapPort} ${smtpPort} ${httpPort}`);

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
