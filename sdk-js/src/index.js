// @scripthost/sdk: helpers for scripthost endpoint scripts. See README.md.
import * as backend from './backend.js';
import * as config from './config.js';
import * as graph from './graph.js';
import * as log from './log.js';

export { backend, config, graph, log };
export { BackendError, BackendResponse } from './backend.js';
export { Request } from './request.js';
export { json, text } from './response.js';
