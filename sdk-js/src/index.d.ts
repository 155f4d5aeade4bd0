// Types of @scripthost/sdk: the scripthost ABI v0.1 (`scripthost:abi@0.1.1`,
// world `endpoint`) as a script author sees it, and the SDK's helpers.

/** HTTP header fields in order as `[name, value]` pairs; names lower-case, repeats allowed. */
export type Headers = [name: string, value: string][];

/** What the helpers accept for headers: pairs, any iterable of pairs (Map, Headers) or a plain object. */
export type HeadersInit = Iterable<readonly [string, string]> | Record<string, string | number | boolean>;

/**
 * A body the helpers accept: binary data as it is, a string as UTF-8 text,
 * any other value as JSON, null or undefined as empty.
 */
export type Body = Uint8Array | ArrayBuffer | ArrayBufferView | string | number | boolean | object | null | undefined;

/** The fields of the ABI's request record (also what `new Request(...)` takes, for tests). */
export interface RawRequest {
  method?: string;
  path?: string;
  query?: string;
  headers?: HeadersInit;
  body?: Uint8Array | string;
  endpoint?: string;
  version?: string;
  requestId?: string;
}

/** One device request, as the host received it; what `handle` is given. */
export class Request {
  /** @param raw The request's fields; missing ones default to a `GET /` with nothing in it. */
  constructor(raw?: RawRequest);
  /** HTTP method, upper-case (`GET`, `POST`, ...). */
  readonly method: string;
  /** Path below the endpoint, starting with `/` (`/home` for `/tv/home`). */
  readonly path: string;
  /** Raw query string without the leading `?`. */
  readonly query: string;
  /** Request headers in order, names lower-case; hop-by-hop headers removed. */
  readonly headers: Headers;
  /** Request body bytes. */
  readonly body: Uint8Array;
  /** `namespace/path` the script is deployed at. */
  readonly endpoint: string;
  /** Version id of the running script. */
  readonly version: string;
  /** Id of this request; also in every log line and the `x-request-id` response header. */
  readonly requestId: string;
  /** The query string parsed: `req.params.get('user')`. */
  readonly params: URLSearchParams;
  /** First value of request header `name` (case-insensitive), or null. */
  header(name: string): string | null;
  /** The body decoded as UTF-8 (invalid bytes become U+FFFD). */
  text(): string;
  /** The body parsed as JSON; throws SyntaxError when it is not JSON. */
  json<T = any>(): T;
}

/**
 * What `handle` returns. `status` defaults to 200. A string body is sent as
 * UTF-8 with content-type text/plain, a non-binary value as JSON with
 * content-type application/json, unless `headers` name their own content-type.
 */
export interface Response {
  status?: number;
  headers?: HeadersInit;
  body?: Body;
}

/** Options of the response helpers. */
export interface ResponseInit {
  /** HTTP status, 100-599; default 200. */
  status?: number;
  /** Extra headers; a content-type here replaces the helper's. */
  headers?: HeadersInit;
}

/** The ABI's response record, as the helpers build it. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** A response whose body is `value` as JSON, content-type application/json. */
export function json(value: unknown, init?: ResponseInit): RawResponse;

/** A response whose body is `text` as UTF-8, content-type text/plain; charset=utf-8. */
export function text(text: string, init?: ResponseInit): RawResponse;

/** The function a script exports as `handle`; it may be async. */
export type Handler = (req: Request) => Response | Promise<Response>;

/** Why a backend call got no usable answer (the ABI's backend-error variant). */
export type BackendErrorKind =
  /** No service of that name in the catalogue. */
  | 'unknown-service'
  /** The endpoint may not call that service, or the path was refused. */
  | 'not-allowed'
  /** No answer within the call's deadline. */
  | 'timeout'
  /** Connection refused or reset, or DNS failure. */
  | 'unavailable'
  /** The request already made its maximum number of backend calls. */
  | 'quota-exceeded'
  /** The service's answer was larger than the host passes on. */
  | 'bad-response';

/** A backend call that got no usable answer; `kind` says why. */
export class BackendError extends Error {
  constructor(kind: BackendErrorKind, message: string);
  readonly name: 'BackendError';
  /** Why the call failed. */
  readonly kind: BackendErrorKind;
  /** The host's explanation. */
  readonly message: string;
}

/** A service's answer, whatever its status: a 404 is a response, not an error. */
export class BackendResponse {
  constructor(raw: RawResponse);
  readonly status: number;
  /** Response headers in order, names lower-case. */
  readonly headers: Headers;
  readonly body: Uint8Array;
  /** True for a 2xx status. */
  readonly ok: boolean;
  /** First value of response header `name` (case-insensitive), or null. */
  header(name: string): string | null;
  /** The body decoded as UTF-8 (invalid bytes become U+FFFD). */
  text(): string;
  /** The body parsed as JSON; throws SyntaxError when it is not JSON. */
  json<T = any>(): T;
}

/** Options of one backend call. */
export interface BackendRequestOptions {
  /** HTTP method; default `GET`. */
  method?: string;
  headers?: HeadersInit;
  /** Request body: bytes as they are, a string as text, any other value as JSON. */
  body?: Body;
  /** Per-call timeout; the host never waits past the request's deadline anyway. */
  timeoutMs?: number;
  /** Query parameters appended to the path, encoded: `{lang: 'en'}` adds `?lang=en`. */
  query?: Record<string, string> | URLSearchParams | [string, string][];
}

/** One backend call, described (by `backend.request`) but not sent. */
export interface BackendRequest extends BackendRequestOptions {
  /** Service name from the host's catalogue, e.g. `profile`. */
  service: string;
  /** Path (and query) below the service's base URL; must start with `/`. */
  path: string;
}

/** Calls to the backend services the API team named in the catalogue; a script never sees a URL. */
export namespace backend {
  /** Describe a call without sending it, for `fetch` or `batch`. */
  function request(service: string, path: string, options?: BackendRequestOptions): BackendRequest;
  /** Send one call and wait for it; throws `BackendError` when there is no answer. */
  function fetch(request: BackendRequest): BackendResponse;
  /** `GET path` on `service`; throws `BackendError` when there is no answer. */
  function get(service: string, path: string, options?: Omit<BackendRequestOptions, 'method' | 'body'>): BackendResponse;
  /** `POST path` on `service` with `body`; throws `BackendError` when there is no answer. */
  function post(service: string, path: string, body: Body, options?: Omit<BackendRequestOptions, 'method' | 'body'>): BackendResponse;
  /**
   * Send several calls at once; the host runs them concurrently and answers
   * when the slowest has. One item per call, in order: the response, or the
   * `BackendError` (returned, not thrown) of a call that got no answer.
   */
  function batch(requests: readonly BackendRequest[]): (BackendResponse | BackendError)[];
}

/** The endpoint's configuration: string key/values set at deploy time, read-only. */
export namespace config {
  /** The value of `key`, or null when the endpoint has no such key. */
  function get(key: string): string | null;
  /** The value of `key`, or `fallback` when the endpoint has no such key. */
  function get<T>(key: string, fallback: T): string | T;
  /** Every key/value of the endpoint's configuration. */
  function all(): Record<string, string>;
}

/** Log levels of the request log. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Structured lines in the request log; the host adds the request id,
 * endpoint and version. Field values that are not strings are written as
 * JSON. Log lines count against the request's log-volume limit.
 */
export namespace log {
  /** One line at `level`. */
  function write(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /** One line at level debug. */
  function debug(message: string, fields?: Record<string, unknown>): void;
  /** One line at level info. */
  function info(message: string, fields?: Record<string, unknown>): void;
  /** One line at level warn. */
  function warn(message: string, fields?: Record<string, unknown>): void;
  /** One line at level error. */
  function error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Path-shaped data access in the style of Falcor's JSON Graph: devices ask for
 * paths (`?paths=[["titles",[1,2],["name","rating"]]]`), routes say how each
 * part of the graph is fetched, with every key a request needs at once.
 */
export namespace graph {
  /** A key set of a path: a key, a range, or a list of them. */
  type KeySet = string | number | Range | (string | number | Range)[];
  /** Integers `from` to `to` (inclusive), or `length` of them from `from`. */
  type Range = { from?: number; to: number } | { from?: number; length: number };
  /** One path set: `["titles", [1, 2], "name"]` names titles.1.name and titles.2.name. */
  type PathSet = KeySet[];
  type Path = (string | number)[];
  /** A leaf of the graph: a JSON primitive or a sentinel. */
  type Sentinel =
    | { $type: 'ref'; value: string[] }
    | { $type: 'atom'; value?: unknown }
    | { $type: 'error'; value: { message: string } };
  /** A branch of the graph: keys to branches or leaves. */
  interface JsonGraph {
    [key: string]: JsonGraph | Sentinel | string | number | boolean | null;
  }
  /** What a route returns: values at paths, or a part of the graph. */
  type RouteResult = { path: Path; value: unknown }[] | { jsonGraph: JsonGraph };
  interface Route {
    /** `titles[{integers:ids}][{keys:props}]`, `lists.top[{ranges:r}]`, `titles[{integers}]["name","year"]` */
    route: string;
    /**
     * Fetch what `captures` names (integers as numbers, ranges as `[{from, to}]`,
     * keys as strings), for all the paths at once; `paths` are the matched paths.
     */
    get(captures: Record<string, any>, paths: string[][]): RouteResult | Promise<RouteResult>;
  }
  interface Limits {
    /** Values one request may name, all path sets together; default 1000. */
    maxPaths?: number;
    /** Keys in one path set; default 32. */
    maxDepth?: number;
    /** References one path may pass through; default 32. */
    maxRefHops?: number;
    /** Rounds of routes (each reference followed may need one); default 16. */
    maxRounds?: number;
  }
  /** A reference to another place in the graph. */
  function ref(path: Path): Sentinel;
  /** A value held as a whole (an object or array that is not a branch); no value: known absent. */
  function atom(value?: unknown): Sentinel;
  /** An error in place of a value. */
  function error(message: string): Sentinel;
  /** Paths the router will not read; `serve` answers them with 400 `bad_paths`. */
  class PathError extends Error {}
  /** Routes in order; the first that matches a path serves it. */
  class Router {
    constructor(routes: Route[], limits?: Limits);
    /** The JSON Graph holding every path asked for and the references on the way. */
    get(pathSets: PathSet[]): Promise<JsonGraph>;
    /** The device's answer: `?paths=` (GET) or `{"paths": [...]}` (POST) in, `{jsonGraph}` out. */
    serve(req: Request): Promise<RawResponse>;
  }
}
