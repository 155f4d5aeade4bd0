// Answers with everything it was sent: the request's fields as headers, its body as the body.
export function handle(req) {
  const headers = [
    ['x-method', req.method],
    ['x-path', req.path],
    ['x-query', req.query],
    ['x-endpoint', req.endpoint],
    ['x-version', req.version],
    ['x-request-id', req.requestId],
    ...req.headers.map(([name, value]) => [`x-header-${name}`, value]),
  ];
  return { status: 201, headers, body: req.body };
}
