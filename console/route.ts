// The console's two places, in the URL's fragment so a reload or a shared
// link lands on the same view: the list of federations (#/) and one
// federation (#/federations/<id>).
import { useEffect, useState } from 'preact/hooks';

export type Route = { view: 'list' } | { view: 'federation'; id: string };

export function parseRoute(hash: string): Route {
  const m = /^#\/federations\/([^/]+)$/.exec(hash);
  return m ? { view: 'federation', id: decodeURIComponent(m[1]) } : { view: 'list' };
}

export const federationHref = (id: string) => `#/federations/${encodeURIComponent(id)}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
