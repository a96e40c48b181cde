import { openStore } from '@routeplex/store';
const t = performance.now();
const s = await openStore({});
console.log('openStore', Math.round(performance.now() - t));
await s.close();
