// The console's connection to the Worker: the operator client the CLI uses
// (same origin: the Worker serves this page), with the admin key the person
// entered, kept for the tab only (sessionStorage: gone when the tab closes,
// never written to disk by the page, never in a URL).
import { type AdminClient, adminClient } from '../operator/client.js';

const KEY = 'splitflare.adminKey';

export const savedKey = (): string | null => sessionStorage.getItem(KEY);
export const saveKey = (key: string) => sessionStorage.setItem(KEY, key);
export const forgetKey = () => sessionStorage.removeItem(KEY);

export const clientFor = (key: string): AdminClient => adminClient(location.origin, key);
