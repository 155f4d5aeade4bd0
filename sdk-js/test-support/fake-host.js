// The host side of the ABI for the SDK's tests, standing in for every
// `scripthost:abi/*` import. It follows the componentize-js conventions the
// real bindings use: an `err` result of `call` is thrown with the variant as
// `payload`, `call-batch` results are `{tag, val}`, a missing option is undefined.

/** What the fake host answers and what it was asked; `reset()` between tests. */
export const host = {
  reset() {
    this.config = {};
    this.answer = () => ok({ status: 200, headers: [], body: new Uint8Array() });
    this.calls = [];
    this.batches = [];
    this.lines = [];
  },
};
host.reset();

/** An ok result of a backend call. */
export function ok(response) {
  return { tag: 'ok', val: response };
}

/** An err result of a backend call: `kind` with `message`. */
export function err(kind, message) {
  return { tag: 'err', val: { tag: kind, val: message } };
}

// scripthost:abi/backend@0.1.1
export function call(request) {
  host.calls.push(request);
  const result = host.answer(request);
  if (result.tag === 'ok') return result.val;
  throw Object.assign(new Error('[object Object] (see error.payload)'), { payload: result.val });
}

export function callBatch(requests) {
  host.batches.push(requests);
  return requests.map((request) => host.answer(request));
}

// scripthost:abi/log@0.1.1
export function write(level, message, fields) {
  host.lines.push({ level, message, fields });
}

// scripthost:abi/config@0.1.1
export function get(key) {
  return host.config[key];
}

export function getAll() {
  return Object.entries(host.config);
}
