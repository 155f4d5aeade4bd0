// Device home screen: greeting, plan and the first rows of recommendations.
import { BackendError, backend, config, json, log } from '@scripthost/sdk';

export function handle(req) {
  const user = req.params.get('user');
  if (!user) return json({ error: 'missing query parameter: user' }, { status: 400 });

  const [profile, recommendations] = backend.batch([
    backend.request('profile', `/users/${encodeURIComponent(user)}`),
    backend.request('recommendations', `/for/${encodeURIComponent(user)}`),
  ]);
  if (profile instanceof BackendError) return json({ error: `profile service: ${profile.kind}` }, { status: 502 });
  if (profile.status === 404) return json({ error: `unknown user ${user}` }, { status: 404 });
  if (!profile.ok) return json({ error: `profile service: status ${profile.status}` }, { status: 502 });

  const degraded = recommendations instanceof BackendError || !recommendations.ok;
  const items = degraded ? [] : recommendations.json().items;
  const rows = items.slice(0, Number(config.get('max_items', '3')));

  const { name, plan } = profile.json();
  log.info('home rendered', { user, rows: rows.length });
  return json({ greeting: `${config.get('greeting', 'Hi')}, ${name}!`, plan, rows, degraded });
}
