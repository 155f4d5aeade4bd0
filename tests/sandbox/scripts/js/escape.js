// Adversarial: tries every way out of the sandbox a JavaScript engine might
// offer, to read a file and to reach a server on 127.0.0.1 at `?port=N`. The
// last attempt (dynamic import of a Node built-in) reaches the engine's
// stubbed-out filesystem. The earlier outcomes are logged first; if anything
// got through, the response says what. Neither may ever hold file contents
// or a remote answer.
import { json, log } from '@scripthost/sdk';

// A computed specifier, so the bundler leaves the module lookup to the engine.
const NODE_FS = ['node', 'fs'].join(':');

function attempts(port) {
  return {
    require: () => require(NODE_FS).readFileSync('/etc/passwd', 'utf8'),
    process: () => process.env,
    deno: () => Deno.readTextFileSync('/etc/passwd'),
    fetch: () => fetch(`http://127.0.0.1:${port}/`),
    websocket: () => new WebSocket(`ws://127.0.0.1:${port}/`),
    xhr: () => new XMLHttpRequest().open('GET', `http://127.0.0.1:${port}/`),
  };
}

function attempt(run) {
  try {
    return { got: String(run()) };
  } catch (error) {
    return { refused: String(error) };
  }
}

export async function handle(req) {
  const tries = Object.entries(attempts(req.params.get('port')));
  const outcomes = Object.fromEntries(tries.map(([name, run]) => [name, attempt(run)]));
  log.warn('escape attempts', outcomes);
  outcomes.import = await import(NODE_FS).then(
    (fs) => ({ got: fs.readFileSync('/etc/passwd', 'utf8') }),
    (error) => ({ refused: String(error) }),
  );
  return json(outcomes);
}
