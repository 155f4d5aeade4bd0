// Path-shaped data access in the style of Falcor's JSON Graph router.
//
// A device asks for paths into one JSON graph:
//   GET /tv/graph?paths=[["titles",[1,2,3],["name","rating"]],["lists","top",{"from":0,"to":1},"name"]]
// and the script declares, once per route, how that part of the graph is
// fetched. A route gets every key the request needs from it at once, so
// `titles[{integers:ids}][{keys:props}]` makes one batched backend call for
// all the ids, however many paths asked for them. Values may be references
// to other parts of the graph (`ref(['titles', 4])`), which the router
// follows; a route that fails, or a path no route serves, becomes an error
// value at that path, and the other paths are still answered.
import { json } from './response.js';

/** A reference to another place in the graph. */
export function ref(path) {
  return { $type: 'ref', value: path.map(String) };
}

/** A value the graph holds as a whole (an object or array that is not a branch). */
export function atom(value) {
  return value === undefined ? { $type: 'atom' } : { $type: 'atom', value };
}

/** An error in place of a value, for one path. */
export function error(message) {
  return { $type: 'error', value: { message: String(message) } };
}

/** A request whose paths the router will not read; `serve` answers it with 400. */
export class PathError extends Error {
  name = 'PathError';
}

const DEFAULT_LIMITS = { maxPaths: 1000, maxDepth: 32, maxRefHops: 32, maxRounds: 16 };
const INTEGER_KEY = /^(0|[1-9][0-9]{0,15})$/;

/**
 * Routes in order; the first that matches a path serves it:
 *   new Router([{ route: 'titles[{integers:ids}][{keys:props}]', get({ ids, props }) { ... } }])
 * `get` (may be async) receives the captured keys (`integers` as numbers,
 * `ranges` as `[{from, to}]`, `keys` as strings) and the matched paths, and
 * returns path values (`[{path, value}]`) or `{jsonGraph}`.
 */
export class Router {
  constructor(routes, limits = {}) {
    this.routes = routes.map(({ route, get }) => ({ route, tokens: parsePattern(route), get }));
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** The JSON Graph holding every path asked for (and the references on the way). */
  async get(pathSets) {
    const requested = expandPathSets(pathSets, this.limits);
    const graph = branch();
    const asked = new Set();
    for (let round = 0; round < this.limits.maxRounds; round++) {
      const missing = uniquePaths(requested.map((path) => walk(graph, path, this.limits).missing).filter(Boolean));
      if (missing.length === 0) break;
      await this.#fetch(graph, missing, asked);
    }
    return answerGraph(graph, requested, this.limits);
  }

  /** The device request's answer: `?paths=` (GET) or `{"paths": ...}` (POST) in, `{jsonGraph}` out. */
  async serve(req) {
    try {
      return json({ jsonGraph: await this.get(readPaths(req)) });
    } catch (thrown) {
      if (!(thrown instanceof PathError)) throw thrown;
      return json({ error: 'bad_paths', message: thrown.message, request_id: req.requestId }, { status: 400 });
    }
  }

  async #fetch(graph, missing, asked) {
    const groups = new Map();
    for (const path of missing) {
      const route = this.routes.find(({ tokens }) => matches(tokens, path));
      if (!route) {
        setIn(graph, path, error(`no route serves ${path.join('.')}`));
        continue;
      }
      const prefix = path.slice(0, route.tokens.length);
      const seen = `${this.routes.indexOf(route)} ${JSON.stringify(prefix)}`;
      if (asked.has(seen)) {
        // The route was asked for this already and did not say: nothing is there.
        setIn(graph, path, atom());
        continue;
      }
      asked.add(seen);
      if (!groups.has(route)) groups.set(route, []);
      groups.get(route).push(prefix);
    }
    for (const [route, prefixes] of groups) {
      try {
        merge(graph, await route.get(captures(route.tokens, prefixes), prefixes));
      } catch (thrown) {
        for (const prefix of prefixes) setIn(graph, prefix, error(String(thrown)));
        continue;
      }
      for (const prefix of prefixes) {
        if (walk(graph, prefix, this.limits).missing) setIn(graph, prefix, atom());
      }
    }
  }
}

function readPaths(req) {
  const method = req.params.get('method');
  if (method !== null && method !== 'get') throw new PathError(`only method=get is supported, not ${method}`);
  let raw = req.params.get('paths');
  if (req.method === 'POST') {
    try {
      raw = JSON.stringify(req.json().paths);
    } catch {
      throw new PathError('a POST body is {"paths": [...]}');
    }
  }
  if (raw === null || raw === undefined) throw new PathError('ask for paths: ?paths=[["titles",[1,2],"name"]]');
  try {
    return JSON.parse(raw);
  } catch {
    throw new PathError('paths must be JSON');
  }
}

// Route patterns: `titles[{integers:ids}][{keys:props}]`, `lists.top[{ranges:r}]`, `titles[{integers}]["name","year"]`.
function parsePattern(pattern) {
  const tokens = [];
  const scanner = /\s*(?:([A-Za-z_$][\w$-]*)|\.([A-Za-z_$][\w$-]*)|\[\s*\{\s*(integers|ranges|keys)\s*(?::\s*([A-Za-z_$][\w$]*))?\s*\}\s*\]|\[([^\]]*)\])/y;
  let at = 0;
  while (at < pattern.length) {
    scanner.lastIndex = at;
    const found = scanner.exec(pattern);
    if (!found || (found[1] && tokens.length > 0)) throw new TypeError(`bad route pattern ${JSON.stringify(pattern)} at ${at}`);
    const [, first, dotted, kind, name, literals] = found;
    if (kind) tokens.push({ kind, name });
    else tokens.push({ kind: 'literal', keys: new Set(first ? [first] : dotted ? [dotted] : parseLiterals(literals, pattern)) });
    at = scanner.lastIndex;
  }
  if (tokens.length === 0) throw new TypeError('a route pattern names at least one key');
  return tokens;
}

function parseLiterals(text, pattern) {
  try {
    return JSON.parse(`[${text.replaceAll("'", '"')}]`).map(String);
  } catch {
    throw new TypeError(`bad keys [${text}] in route pattern ${JSON.stringify(pattern)}`);
  }
}

function matches(tokens, path) {
  if (path.length < tokens.length) return false;
  return tokens.every((token, i) => {
    if (token.kind === 'literal') return token.keys.has(path[i]);
    if (token.kind === 'keys') return true;
    return INTEGER_KEY.test(path[i]);
  });
}

function captures(tokens, prefixes) {
  const found = {};
  tokens.forEach((token, i) => {
    if (!token.name) return; // a literal, or a capture the route does not name
    const keys = [...new Set(prefixes.map((prefix) => prefix[i]))];
    if (token.kind === 'keys') found[token.name] = keys;
    else {
      const numbers = keys.map(Number);
      found[token.name] = token.kind === 'integers' ? numbers : toRanges(numbers);
    }
  });
  return found;
}

function toRanges(numbers) {
  const ranges = [];
  for (const n of [...numbers].sort((a, b) => a - b)) {
    const last = ranges.at(-1);
    if (last && n === last.to + 1) last.to = n;
    else ranges.push({ from: n, to: n });
  }
  return ranges;
}

// Path sets: each element a key, a range ({from, to} or {from, length}) or a list of them.
function expandPathSets(pathSets, limits) {
  if (!Array.isArray(pathSets) || pathSets.length === 0) throw new PathError('paths is a non-empty list of path sets');
  let budget = limits.maxPaths;
  const paths = [];
  for (const pathSet of pathSets) {
    if (!Array.isArray(pathSet) || pathSet.length === 0 || pathSet.length > limits.maxDepth) {
      throw new PathError(`a path set is a list of 1 to ${limits.maxDepth} key sets, not ${JSON.stringify(pathSet)}`);
    }
    const keySets = pathSet.map((keySet) => expandKeySet(keySet, budget));
    const count = keySets.reduce((product, keys) => product * keys.length, 1);
    if (count > budget) throw new PathError(`the paths name more than ${limits.maxPaths} values`);
    budget -= count;
    paths.push(...cartesian(keySets));
  }
  return uniquePaths(paths);
}

function expandKeySet(keySet, budget) {
  const parts = Array.isArray(keySet) ? keySet : [keySet];
  const keys = [];
  for (const part of parts) {
    if (part === '$type') throw new PathError('$type is not a key');
    if (typeof part === 'string') keys.push(part);
    else if (typeof part === 'number' && Number.isInteger(part)) keys.push(String(part));
    else if (part !== null && typeof part === 'object' && !Array.isArray(part)) keys.push(...expandRange(part, budget - keys.length));
    else throw new PathError(`a key is a string, an integer or a range, not ${JSON.stringify(part)}`);
    if (keys.length > budget) throw new PathError('the paths name too many values');
  }
  return keys;
}

function expandRange({ from = 0, to, length }, budget) {
  const end = to ?? (length === undefined ? undefined : from + length - 1);
  if (!Number.isInteger(from) || !Number.isInteger(end) || from < 0 || end < from - 1) {
    throw new PathError('a range is {"from": n, "to": m} or {"from": n, "length": k} with integers');
  }
  if (end - from + 1 > budget) throw new PathError('the paths name too many values');
  return Array.from({ length: end - from + 1 }, (_, i) => String(from + i));
}

function cartesian(keySets) {
  return keySets.reduce((paths, keys) => paths.flatMap((path) => keys.map((key) => [...path, key])), [[]]);
}

function uniquePaths(paths) {
  const seen = new Map();
  for (const path of paths) seen.set(JSON.stringify(path), path);
  return [...seen.values()];
}

// The graph: plain objects are branches; everything else (a $type sentinel or a primitive) is a leaf.
// Branches have no prototype, so a key such as `__proto__` is just a key.
function branch() {
  return Object.create(null);
}

function isBranch(node) {
  return node !== null && typeof node === 'object' && !Array.isArray(node) && !('$type' in node);
}

/** Follow `path` through the graph: the leaves on the way (references and the value) or where it goes missing. */
function walk(graph, path, limits) {
  const visited = [];
  let current = path;
  for (let hops = 0; hops <= limits.maxRefHops; hops++) {
    let node = graph;
    let followed = false;
    for (let i = 0; i < current.length; i++) {
      if (!isBranch(node)) {
        visited.push([current.slice(0, i), node]);
        return { visited };
      }
      if (!Object.hasOwn(node, current[i])) return { visited, missing: current };
      node = node[current[i]];
      if (node?.$type === 'ref' && i < current.length - 1) {
        visited.push([current.slice(0, i + 1), node]);
        current = [...node.value, ...current.slice(i + 1)];
        followed = true;
        break;
      }
    }
    if (!followed) {
      visited.push([current, isBranch(node) ? error(`${current.join('.')} is a branch: ask for its keys`) : node]);
      return { visited };
    }
  }
  visited.push([current, error(`more than ${limits.maxRefHops} references on the way`)]);
  return { visited };
}

function answerGraph(graph, requested, limits) {
  const answer = branch();
  for (const path of requested) {
    for (const [at, value] of walk(graph, path, limits).visited) setIn(answer, at, value);
  }
  return answer;
}

function setIn(graph, path, value) {
  let node = graph;
  path.slice(0, -1).forEach((key) => {
    if (!isBranch(node[key])) node[key] = branch();
    node = node[key];
  });
  node[path.at(-1)] = value;
}

function merge(graph, results) {
  if (Array.isArray(results)) {
    for (const { path, value } of results) setIn(graph, path.map(String), asLeaf(value));
  } else if (results && isBranch(results.jsonGraph)) {
    mergeBranch(graph, results.jsonGraph);
  } else if (results !== undefined && results !== null) {
    throw new TypeError('a route returns [{path, value}, ...] or {jsonGraph}');
  }
}

function mergeBranch(target, source) {
  for (const [key, value] of Object.entries(source)) {
    if (!isBranch(value)) target[key] = value;
    else {
      if (!isBranch(target[key])) target[key] = branch();
      mergeBranch(target[key], value);
    }
  }
}

function asLeaf(value) {
  return value !== null && typeof value === 'object' && !('$type' in value) ? atom(value) : value;
}
