// A libzmq peer with the DRAFT API for gzmq's interop tests: zeromq.js 6.8.0 bundles libzmq
// 4.3.5 built with draft sockets (pyzmq's wheels are built without them).
//
// Usage: node peer.mjs '<json scenario>'. The scenario (bytes travel as hex):
//
//   {"type": "SERVER",              // CLIENT SERVER RADIO DISH SCATTER GATHER (draft.js)
//    "bind": true,                  // bind (else connect) to "endpoint"
//    "endpoint": "tcp://127.0.0.1:*",
//    "join": ["<hex>", ...],        // DISH: groups joined before bind/connect
//    "timeout": 10000,              // ms, bound on every receive
//    "steps": [{"op": ...}, ...]}
//
// Ops:
//  - recv {count}: print {"recv": hex, "routing_id": n|null, "group": hex|null} per message.
//  - send {msgs: [{"data": hex, "routing_id": n, "group": hex}, ...]}: print {"sent": n}.
//  - echo {count}: receive and send back (SERVER: to the sender's routing id; RADIO cannot
//    receive); print each received message like recv.
//  - repeat {msgs, interval}: send msgs every interval ms until stdin closes (RADIO to a DISH
//    whose JOIN may not have arrived yet); print {"repeated": n}.
//  - leave {groups}: DISH leaves groups; join {groups}: DISH joins; print {"ok": op}.
//  - try {call: "join"|"leave"|"send", group, routing_id, data}: make the call, print
//    {"try": call, "code": "EINVAL"...} (code null when it worked): libzmq's error rules.
//  - wait: until stdin closes.
//
// Prints "READY <endpoint>" once bound/connected, {"done": true} at the end; a failure prints
// {"error": ...} and exits with status 3. A watchdog bounds the whole run ("deadline", s).
import * as draft from "zeromq/draft.js";

process.removeAllListeners("warning"); // the "draft features are experimental" notice

const scenario = JSON.parse(process.argv[2]);
const timeout = scenario.timeout ?? 10000;
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const fail = (message) => {
  out({ error: String(message) });
  process.exit(3);
};
setTimeout(() => fail("deadline"), (scenario.deadline ?? 30) * 1000).unref();

const classes = {
  CLIENT: draft.Client, SERVER: draft.Server, RADIO: draft.Radio, DISH: draft.Dish,
  SCATTER: draft.Scatter, GATHER: draft.Gather,
};
const Type = classes[scenario.type];
if (!Type) fail(`unknown type ${scenario.type}`);
const options = { linger: 2000 };
// each class takes only the options of its direction
if (!["RADIO", "SCATTER"].includes(scenario.type)) options.receiveTimeout = timeout;
if (!["DISH", "GATHER"].includes(scenario.type)) options.sendTimeout = timeout;
const sock = new Type(options);

let stdinClosed = false;
const stdinDone = new Promise((resolve) => {
  process.stdin.on("end", () => { stdinClosed = true; resolve(); });
  process.stdin.on("close", () => { stdinClosed = true; resolve(); });
  process.stdin.resume();
});

function report(msg, meta) {
  const line = { recv: Buffer.from(msg).toString("hex"), routing_id: null, group: null };
  if (meta && meta.routingId !== undefined) line.routing_id = meta.routingId;
  if (meta && meta.group !== undefined) line.group = Buffer.from(meta.group).toString("hex");
  out(line);
}

async function receive() {
  const [msg, meta] = await sock.receive();
  report(msg, meta);
  return [msg, meta];
}

async function sendOne(spec) {
  const data = Buffer.from(spec.data ?? "", "hex");
  const options = {};
  if (spec.routing_id !== undefined) options.routingId = spec.routing_id;
  if (spec.group !== undefined) options.group = Buffer.from(spec.group, "hex");
  if (Object.keys(options).length) await sock.send(data, options);
  else await sock.send(data);
}

async function main() {
  for (const group of scenario.join ?? []) sock.join(Buffer.from(group, "hex"));
  if (scenario.bind) {
    await sock.bind(scenario.endpoint);
    process.stdout.write(`READY ${sock.lastEndpoint}\n`);
  } else {
    sock.connect(scenario.endpoint);
    process.stdout.write(`READY ${scenario.endpoint}\n`);
  }
  for (const step of scenario.steps ?? []) {
    switch (step.op) {
      case "recv":
        for (let i = 0; i < (step.count ?? 1); i++) await receive();
        break;
      case "send":
        for (const spec of step.msgs) await sendOne(spec);
        out({ sent: step.msgs.length });
        break;
      case "echo":
        for (let i = 0; i < (step.count ?? 1); i++) {
          const [msg, meta] = await receive();
          const options = {};
          if (meta && meta.routingId !== undefined) options.routingId = meta.routingId;
          if (Object.keys(options).length) await sock.send(msg, options);
          else await sock.send(msg);
        }
        break;
      case "repeat": {
        let n = 0;
        while (!stdinClosed) {
          for (const spec of step.msgs) await sendOne(spec);
          n += 1;
          await Promise.race([stdinDone, new Promise((r) => setTimeout(r, step.interval ?? 20))]);
        }
        out({ repeated: n });
        break;
      }
      case "join":
        for (const group of step.groups) sock.join(Buffer.from(group, "hex"));
        out({ ok: "join" });
        break;
      case "leave":
        for (const group of step.groups) sock.leave(Buffer.from(group, "hex"));
        out({ ok: "leave" });
        break;
      case "try": {
        let code = null;
        try {
          if (step.call === "join") sock.join(Buffer.from(step.group, "hex"));
          else if (step.call === "leave") sock.leave(Buffer.from(step.group, "hex"));
          else await sendOne(step);
        } catch (err) {
          code = err.code ?? String(err);
        }
        out({ try: step.call, code });
        break;
      }
      case "wait":
        await stdinDone;
        break;
      default:
        fail(`unknown op ${step.op}`);
    }
  }
  out({ done: true });
  sock.close();
}

main().catch((err) => fail(err && err.stack ? err.stack : err));
