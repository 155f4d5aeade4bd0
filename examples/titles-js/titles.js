// Titles as a JSON graph: devices ask for exactly the paths they show.
//
//   GET /tv/titles?paths=[["titles",[1,2,3],["name","rating"]],["lists","top",{"from":0,"to":2},"name"]]
//
// Each route fetches everything one request needs from it in one backend call;
// the `top` list holds references to titles, which the router follows.
import { backend, graph } from '@scripthost/sdk';

const router = new graph.Router([
  {
    // Every id and field asked for, in one call: /titles?ids=1,2,3
    route: 'titles[{integers:ids}][{keys:props}]',
    get({ ids, props }) {
      const { titles } = catalog(`/titles?ids=${ids.join(',')}`);
      return ids.flatMap((id) => {
        const title = titles[id];
        // A title or field the catalog does not have is left out: the router answers it as absent.
        return title ? props.filter((prop) => prop in title).map((prop) => ({ path: ['titles', id, prop], value: title[prop] })) : [];
      });
    },
  },
  {
    route: 'lists[{keys:names}].length',
    get({ names }) {
      const { lists } = fetchLists(names);
      return names.filter((name) => lists[name]).map((name) => ({ path: ['lists', name, 'length'], value: lists[name].length }));
    },
  },
  {
    // A list's entries are references to titles: the titles route answers what devices ask of them.
    route: 'lists[{keys:names}][{integers:indices}]',
    get({ names, indices }) {
      const { lists } = fetchLists(names);
      return names.flatMap((name) =>
        indices
          .filter((index) => index < (lists[name]?.length ?? 0))
          .map((index) => ({ path: ['lists', name, index], value: graph.ref(['titles', lists[name][index]]) })),
      );
    },
  },
]);

// Both list routes call this with the same names in one request: the host makes that call once.
function fetchLists(names) {
  return catalog(`/lists?names=${names.map(encodeURIComponent).join(',')}`);
}

function catalog(path) {
  const answer = backend.get('catalog', path);
  // Thrown in a route: an error value at every path the route was asked for.
  if (!answer.ok) throw new Error(`the catalog answered ${answer.status}`);
  return answer.json();
}

export function handle(req) {
  return router.serve(req);
}
