#!/usr/bin/env node
// The installed `routeplex` command. Its sources are TypeScript and a bin cannot pass `--import tsx` to
// node, so tsx's loader is registered here before the entry is imported.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
