import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the container image', function () {
  this.timeout(30_000);

  it("starts Node with imports that resolve from the image's working directory", async () => {
    // The image copies the repository to /app and runs every service with this ENTRYPOINT from there; the
    // same arguments, run from the repository root, load what a container would load.
    const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).to.match(/^WORKDIR \/app$/m);
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(entrypoint, 'an ENTRYPOINT in exec form').to.be.a('string');
    const [command, ...args] = (JSON.parse(entrypoint!) as string[]).map((a) => a.replace(/^\/app\//, root));
    expect(command).to.equal('node');
    const run = promisify(execFile)(process.execPath, [...args, '-e', 'process.exit(0)'], { cwd: root });
    await run; // rejects with the module error when an import does not resolve
  });
});
