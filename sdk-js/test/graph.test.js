import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSdk } from '../test-support/load.js';

const { graph, Request } = await loadSdk('index.js');
const { Router, ref, atom, error } = graph;

const TITLES = {
  1: { name: 'Arrival', rating: 4.6 },
  2: { name: 'Dune', rating: 4.4 },
  3: { name: 'Heat', rating: 4.5 },
  4: { name: 'Alien', rating: 4.7 },
};

/** A router over TITLES and one list of references, recording what each route was asked. */
function titlesRouter() {
  const asked = { titles: [], lists: [] };
  const router = new Router([
    {
      route: 'titles[{integers:ids}][{keys:props}]',
      get({ ids, props }) {
        asked.titles.push({ ids, props });
        return ids.flatMap((id) =>
          TITLES[id] ? props.map((prop) => ({ path: ['titles', id, prop], value: TITLES[id][prop] })) : [],
        );
      },
    },
    {
      route: 'lists[{keys:names}][{integers:indices}]',
      async get({ names, indices }) {
        asked.lists.push({ names, indices });
        const top = [4, 1];
        return { jsonGraph: { lists: { top: Object.fromEntries(indices.filter((i) => i < top.length).map((i) => [i, ref(['titles', top[i]])])) } } };
      },
    },
    { route: 'broken[{integers}]', get() { throw new Error('the service is down'); } },
  ]);
  return { router, asked };
}

const plain = (value) => JSON.parse(JSON.stringify(value));

test('one route call serves every id and key a request names, across path sets', async () => {
  const { router, asked } = titlesRouter();
  const answer = await router.get([['titles', [1, 2], ['name', 'rating']], ['titles', { from: 2, to: 3 }, 'name']]);
  assert.deepEqual(asked.titles, [{ ids: [1, 2, 3], props: ['name', 'rating'] }]);
  assert.deepEqual(plain(answer), {
    titles: {
      1: { name: 'Arrival', rating: 4.6 },
      2: { name: 'Dune', rating: 4.4 },
      3: { name: 'Heat' },
    },
  });
});

test('references are followed, and the answer holds them and their targets', async () => {
  const { router, asked } = titlesRouter();
  const answer = await router.get([['lists', 'top', { from: 0, length: 2 }, 'name']]);
  assert.deepEqual(asked.lists, [{ names: ['top'], indices: [0, 1] }]);
  assert.deepEqual(asked.titles, [{ ids: [4, 1], props: ['name'] }]);
  assert.deepEqual(plain(answer), {
    lists: { top: { 0: ref(['titles', 4]), 1: ref(['titles', 1]) } },
    titles: { 4: { name: 'Alien' }, 1: { name: 'Arrival' } },
  });
});

test('errors are per path: a failing route, a path no route serves, a missing value', async () => {
  const { router } = titlesRouter();
  const answer = plain(await router.get([['broken', 7], ['nowhere', 'x'], ['titles', 9, 'name'], ['titles', 1, 'name']]));
  assert.deepEqual(answer.broken, { 7: error('Error: the service is down') });
  assert.deepEqual(answer.nowhere, { x: error('no route serves nowhere.x') });
  assert.deepEqual(answer.titles, { 9: { name: atom() }, 1: { name: 'Arrival' } });
});

test('a list beyond its end is absent, not an error', async () => {
  const { router } = titlesRouter();
  const answer = plain(await router.get([['lists', 'top', 5, 'name']]));
  assert.deepEqual(answer, { lists: { top: { 5: atom() } } });
});

test('a reference cycle ends in an error, not a loop', async () => {
  const router = new Router([{ route: 'a[{keys}]', get: () => [{ path: ['a', 'x'], value: ref(['a', 'x']) }] }]);
  const answer = plain(await router.get([['a', 'x', 'name']]));
  assert.match(answer.a.x.name.value.message, /more than 32 references/);
});

test('object values are atoms; literal and range patterns match', async () => {
  const asked = [];
  const router = new Router([
    { route: 'user["profile","prefs"]', get: () => [{ path: ['user', 'profile'], value: { plan: 'premium' } }] },
    { route: 'rows[{ranges:r}]', get: ({ r }) => { asked.push(r); return []; } },
  ]);
  const answer = plain(await router.get([['user', ['profile', 'prefs']], ['rows', [0, 1, 2, 5]]]));
  assert.deepEqual(answer.user, { profile: atom({ plan: 'premium' }), prefs: atom() });
  assert.deepEqual(asked, [[{ from: 0, to: 2 }, { from: 5, to: 5 }]]);
});

test('keys like __proto__ are only keys', async () => {
  const router = new Router([{ route: 'x[{keys:k}]', get: ({ k }) => k.map((key) => ({ path: ['x', key], value: 1 })) }]);
  const answer = await router.get([['x', ['__proto__', 'constructor']]]);
  assert.equal(JSON.stringify(answer), '{"x":{"__proto__":1,"constructor":1}}');
  assert.equal({}.polluted, undefined);
});

test('serve() reads ?paths= and answers {jsonGraph}', async () => {
  const { router } = titlesRouter();
  const query = new URLSearchParams({ paths: JSON.stringify([['titles', 1, 'name']]) }).toString();
  const response = await router.serve(new Request({ query }));
  assert.equal(response.status, 200);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(response.body)), { jsonGraph: { titles: { 1: { name: 'Arrival' } } } });
});

test('serve() reads a POST body too', async () => {
  const { router } = titlesRouter();
  const response = await router.serve(new Request({ method: 'POST', body: JSON.stringify({ paths: [['titles', 2, 'name']] }) }));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(response.body)).jsonGraph, { titles: { 2: { name: 'Dune' } } });
});

for (const [name, query] of [
  ['no paths', ''],
  ['not JSON', 'paths=[['],
  ['not a list', 'paths={}'],
  ['an empty path set', 'paths=[[]]'],
  ['a bad key', 'paths=[["titles",1.5]]'],
  ['a bad range', 'paths=[["titles",{"from":3,"to":"x"}]]'],
  ['too many values', 'paths=[["titles",{"from":0,"to":5000},"name"]]'],
  ['a huge range', 'paths=[["titles",{"from":0,"to":1e15}]]'],
  ['$type as a key', 'paths=[["titles","$type"]]'],
  ['another method', 'method=call&paths=[["titles",1]]'],
]) {
  test(`serve() answers 400 bad_paths for ${name}`, async () => {
    const { router, asked } = titlesRouter();
    const response = await router.serve(new Request({ query: encodeURI(query), requestId: 'r1' }));
    assert.equal(response.status, 400);
    const body = JSON.parse(new TextDecoder().decode(response.body));
    assert.equal(body.error, 'bad_paths');
    assert.equal(body.request_id, 'r1');
    assert.deepEqual(asked, { titles: [], lists: [] });
  });
}

test('a bad route pattern fails when the router is made (at build time)', () => {
  assert.throws(() => new Router([{ route: 'titles[{integer:ids}]', get() {} }]), TypeError);
  assert.throws(() => new Router([{ route: 'a b', get() {} }]), TypeError);
});
