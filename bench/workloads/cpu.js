// cpu: a JSON transform of the request body (about 100 KB).
import { json } from '@scripthost/sdk';

export function handle(req) {
  const { items } = req.json();
  const out = items
    .filter((item) => item.score > 0.5)
    .map((item) => ({ id: item.id, name: item.name.toUpperCase(), score: Math.round(item.score * 100) }));
  return json({ count: out.length, total: out.reduce((sum, item) => sum + item.score, 0), items: out });
}
