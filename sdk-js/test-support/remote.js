// `handle` as a test sees it under `scripthost test --sandbox` or `--live URL`:
// the request goes to the real sandbox (the script runner `scripthost test`
// started, see host/script_runner.py for the protocol), with the running
// FakeHost answering the script's backend calls, or to a deployed endpoint.
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { FakeHost, runningHost } from '../src/testing.js';

const SANDBOX = process.env.SCRIPTHOST_TEST_SANDBOX;
const LIVE = process.env.SCRIPTHOST_TEST_LIVE;

/** Whether tests' requests leave this process (`sandbox`, `live`) or not (`null`). */
export const target = SANDBOX ? 'sandbox' : LIVE ? 'live' : null;

/** The `handle` of the script at `scriptUrl`, run where `scripthost test` says. */
export function remoteHandle(scriptUrl) {
  const script = fileURLToPath(scriptUrl);
  return async (request) => (LIVE ? live(request) : sandboxed(script, request, runningHost() ?? new FakeHost()));
}

async function live(request) {
  const url = new URL(LIVE);
  if (request.query) url.search = request.query;
  const hasBody = request.body.length > 0 && !['GET', 'HEAD'].includes(request.method);
  const response = await fetch(url, {
    method: request.method,
    headers: request.headers,
    body: hasBody ? request.body : undefined,
  });
  return {
    status: response.status,
    headers: [...response.headers],
    body: new Uint8Array(await response.arrayBuffer()),
  };
}

async function sandboxed(script, request, host) {
  const answers = await answering(host);
  try {
    const reply = await fetch(new URL('/run', SANDBOX), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        script,
        request: {
          method: request.method,
          path: request.path,
          query: request.query,
          headers: request.headers,
          body_base64: Buffer.from(request.body).toString('base64'),
        },
        config: host.config,
        answers: answers.url,
      }),
    });
    const result = await reply.json();
    if (!reply.ok) throw new Error(`scripthost test --sandbox: ${result.message}`);
    return fromResult(result, host);
  } finally {
    answers.close();
  }
}

function fromResult(result, host) {
  for (const { level, message, fields } of result.logs) host.logs.push({ level, message, fields });
  if (result.failure) {
    const { class: kind, status, message, guest_detail: detail } = result.failure;
    throw Object.assign(new Error(`${kind} (${status}): ${message}${detail ? `\n${detail}` : ''}`), {
      failure: result.failure,
    });
  }
  const { status, headers, body, body_base64: raw } = result.response;
  return { status, headers, body: raw === undefined ? body : new Uint8Array(Buffer.from(raw, 'base64')) };
}

// A loopback server on which the host's relayed backend calls reach `host`.
async function answering(host) {
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const { calls } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const results = host.answerCalls(calls.map(fromWireCall));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ answers: results.map(toWireAnswer) }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function fromWireCall({ service, method, path, headers, body_base64: body, timeout_ms: timeoutMs }) {
  return {
    service,
    method,
    path,
    headers,
    body: new Uint8Array(Buffer.from(body, 'base64')),
    timeoutMs: timeoutMs ?? undefined,
  };
}

function toWireAnswer(result) {
  if (result.tag === 'err') return { error: result.val.tag, message: result.val.val };
  const { status, headers, body } = result.val;
  return { status, headers, body_base64: Buffer.from(body).toString('base64') };
}
