// The agent and the controller's agent endpoint, end to end: the agent program is fetched and started
// exactly as a pod's agent container does it, as a real process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { createServer, request } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { startAgentEndpoint, type AgentEndpoint } from "../../src/controller/agent-hub.ts";
import { agentBootstrap } from "../../src/templates/agent-container.ts";
import { agentMac } from "../../src/agent/agent.ts";

interface StartedAgent {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

function startAgent(endpoint: AgentEndpoint, name: string, secret: string, env: Record<string, string> = {}): StartedAgent {
  const [, ...args] = agentBootstrap();
  const workDir = mkdtempSync(join(tmpdir(), "berth-agent-"));
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env["PATH"], JENKINS_URL: endpoint.url, JENKINS_SECRET: secret, JENKINS_AGENT_NAME: name, JENKINS_AGENT_WORKDIR: workDir, ...env },
    stdio: ["ignore", "inherit", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      rmSync(workDir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return { child, stderr: () => err, exit };
}

async function withEndpoint(t: { after(fn: () => unknown): void }): Promise<{ endpoint: AgentEndpoint; log: string[] }> {
  const log: string[] = [];
  const endpoint = await startAgentEndpoint({ log: (line) => log.push(line) });
  t.after(() => endpoint.close());
  return { endpoint, log };
}

test("an agent fetches its program, connects with its secret and runs commands with their exit codes", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const agent = endpoint.hub.expect("agent-1", "s3cret-s3cret");
  const process_ = startAgent(endpoint, "agent-1", "s3cret-s3cret");
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  let stdout = "";
  let stderr = "";
  const run = agent.run(["sh", "-c", "echo hello; echo oops >&2; exit 3"], {
    onOutput: (stream, data) => (stream === "stdout" ? (stdout += data) : (stderr += data)),
  });
  assert.deepEqual(await run.result, { code: 3, signal: null });
  assert.equal(stdout, "hello\n");
  assert.equal(stderr, "oops\n");
  const missing = await agent.run(["/no/such/program"]).result;
  assert.match(missing.error ?? "", /ENOENT/);
  agent.stop();
  assert.equal(await process_.exit, 0);
});

test("a wrong secret is refused and logged; the agent exits", async (t) => {
  const { endpoint, log } = await withEndpoint(t);
  endpoint.hub.expect("agent-2", "right-secret");
  const agent = startAgent(endpoint, "agent-2", "wrong-secret");
  assert.equal(await agent.exit, 1);
  assert.match(agent.stderr(), /refused this agent: wrong secret/);
  assert.match(log.join("\n"), /agent agent-2: refused connection from .*: wrong secret/);
});

test("unknown agents, replayed and stale hellos are refused", async (t) => {
  const { endpoint, log } = await withEndpoint(t);
  endpoint.hub.expect("agent-3", "secret");
  const hello = (name: string, timestamp: number, nonce: string, secret = "secret") =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(`${endpoint.url.replace("http", "ws")}agent/connect`);
      ws.on("open", () => ws.send(JSON.stringify({ type: "hello", name, timestamp, nonce, mac: agentMac(secret, name, timestamp, nonce), running: [] })));
      ws.on("message", (data) => {
        const message = JSON.parse(String(data)) as { type: string; reason?: string };
        if (message.type === "welcome" || message.type === "refused") {
          ws.close();
          resolve(message.reason ?? message.type);
        }
      });
    });
  const now = Date.now();
  assert.equal(await hello("agent-3", now, "n1"), "welcome");
  assert.equal(await hello("agent-3", now, "n1"), "replayed hello");
  assert.match(await hello("agent-3", now - 60 * 60_000, "n2"), /too old/);
  assert.match(await hello("ghost", now, "n3"), /no such agent is expected/);
  assert.equal(log.length, 3);
});

test("a dropped connection loses no output: the agent reconnects and resends from the last byte delivered", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const agent = endpoint.hub.expect("agent-4", "secret-4");
  const process_ = startAgent(endpoint, "agent-4", "secret-4");
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  let output = "";
  const run = agent.run(["sh", "-c", "i=1; while [ $i -le 40 ]; do echo line-$i; i=$((i+1)); sleep 0.02; done"], { onOutput: (_s, d) => (output += d) });
  // Cut the connection twice while the command runs.
  await new Promise((r) => setTimeout(r, 200));
  endpoint.hub.dropConnections();
  await new Promise((r) => setTimeout(r, 300));
  endpoint.hub.dropConnections();
  assert.deepEqual(await run.result, { code: 0, signal: null });
  assert.equal(output, Array.from({ length: 40 }, (_, i) => `line-${i + 1}\n`).join(""));
  assert.ok(agent.connectionCount >= 2, `connections: ${agent.connectionCount}`);
});

test("a signal reaches the command's whole process group", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const agent = endpoint.hub.expect("agent-5", "secret-5");
  const process_ = startAgent(endpoint, "agent-5", "secret-5");
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  let started = false;
  const run = agent.run(["sh", "-c", "sleep 30 & echo started; wait"], { onOutput: () => (started = true) });
  while (!started) await new Promise((r) => setTimeout(r, 10));
  run.signal("SIGTERM");
  const result = await run.result;
  assert.equal(result.signal, "SIGTERM");
});

/** A forward HTTP proxy (absolute-URI requests and CONNECT tunnels) that records what went through it. */
async function startProxy(t: { after(fn: () => unknown): void }): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    const upstream = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  proxy.on("connect", (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(":");
    const upstream = connect(Number(port), host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    proxy.closeAllConnections();
    proxy.close();
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, seen };
}

test("through an HTTP proxy: the agent's download and its WebSocket both go through it", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const proxy = await startProxy(t);
  const agent = endpoint.hub.expect("agent-6", "secret-6");
  // What the default agent container has when the pod sets a proxy.
  const process_ = startAgent(endpoint, "agent-6", "secret-6", { HTTP_PROXY: proxy.url, NODE_USE_ENV_PROXY: "1" });
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  assert.equal((await agent.run(["true"]).result).code, 0);
  const port = new URL(endpoint.url).port;
  assert.ok(proxy.seen.filter((s) => s.includes(`127.0.0.1:${port}`)).length >= 2, proxy.seen.join(", "));
});

test("flow control: a command producing more than the unconfirmed window delivers every byte, in order", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const agent = endpoint.hub.expect("agent-7", "secret-7");
  const process_ = startAgent(endpoint, "agent-7", "secret-7");
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  const size = 12 * 1024 * 1024;
  let received = 0;
  let wrong = 0;
  const run = agent.run(["sh", "-c", `head -c ${size} /dev/zero | tr '\\0' x`], {
    onOutput: (_s, data) => {
      received += data.length;
      for (const byte of data) if (byte !== 0x78) wrong++;
    },
  });
  assert.equal((await run.result).code, 0);
  assert.equal(received, size);
  assert.equal(wrong, 0);
});

test("flow control: a consumer that takes output slowly holds the command back, and the result waits for it", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const agent = endpoint.hub.expect("agent-8", "secret-8");
  const process_ = startAgent(endpoint, "agent-8", "secret-8");
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  const size = 16 * 1024 * 1024;
  let handed = 0;
  let taken = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const run = agent.run(["sh", "-c", `head -c ${size} /dev/zero`], {
    onOutput: async (_s, data) => {
      handed += data.length;
      await gate;
      taken += data.length;
    },
  });
  await new Promise((r) => setTimeout(r, 700));
  // Nothing was taken: the agent stopped at its window of unconfirmed output.
  assert.ok(handed <= 5 * 1024 * 1024, `handed ${handed} bytes to a consumer that took none`);
  open();
  assert.equal((await run.result).code, 0);
  assert.equal(taken, size);
});

test("streamed input: a large input goes through in order with bounded read-ahead, across dropped connections", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const agent = endpoint.hub.expect("agent-9", "secret-9");
  const process_ = startAgent(endpoint, "agent-9", "secret-9");
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  const pieces = 96;
  const piece = (i: number) => Buffer.alloc(200 * 1024, i % 251);
  let pulled = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < pieces; i++) {
      pulled += piece(i).length;
      yield piece(i);
    }
  }
  const expected = createHash("sha256");
  for (let i = 0; i < pieces; i++) expected.update(piece(i));
  let output = "";
  // The command reads nothing for a while, then everything.
  const run = agent.run(["sh", "-c", "sleep 1; sha256sum | cut -d' ' -f1"], { stdin: source(), onOutput: (_s, d) => void (output += d) });
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(pulled <= 5 * 1024 * 1024, `read ${pulled} bytes ahead of a command that reads nothing`);
  endpoint.hub.dropConnections();
  await new Promise((r) => setTimeout(r, 900));
  endpoint.hub.dropConnections();
  assert.deepEqual(await run.result, { code: 0, signal: null });
  assert.equal(output.trim(), expected.digest("hex"));
});

test("streamed input: a source that fails kills the command instead of passing a truncated input", async (t) => {
  const { endpoint } = await withEndpoint(t);
  const agent = endpoint.hub.expect("agent-10", "secret-10");
  const process_ = startAgent(endpoint, "agent-10", "secret-10");
  t.after(() => process_.child.kill("SIGKILL"));
  await agent.connected;
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield Buffer.from("partial");
    await new Promise((r) => setTimeout(r, 100));
    throw new Error("disk gone");
  }
  const result = await agent.run(["sh", "-c", "cat > /dev/null; echo done"], { stdin: failing() }).result;
  assert.match(result.error ?? "", /its input could not be read: disk gone/);
});
