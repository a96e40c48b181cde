import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedSecrets } from '../src/embedded.js';

describe('embedded secrets', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rpx-secrets-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = () => join(dir, 'secrets.json');

  it('generates the missing secrets once, keeps them private, and gives the same ones on the next start', async () => {
    const first = await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir });
    expect(first.hmacSecret).to.match(/^[0-9a-f]{64}$/);
    expect(first.jwtSecret).to.match(/^[0-9a-f]{64}$/);
    expect((await stat(file())).mode & 0o777).to.equal(0o600);
    expect(await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir })).to.deep.equal(first);
  });

  it('never writes a secret given in the environment to disk', async () => {
    const given = 'g'.repeat(40);
    const secrets = await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir, ROUTEPLEX_JWT_SECRET: given });
    expect(secrets.jwtSecret).to.equal(given);
    const onDisk = await readFile(file(), 'utf8');
    expect(onDisk).not.to.include(given);
    expect(JSON.parse(onDisk)).to.deep.equal({ hmacSecret: secrets.hmacSecret });
  });

  it('keeps a saved secret through a start that takes it from the environment', async () => {
    const first = await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir });
    await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir, ROUTEPLEX_HMAC_SECRET: 'h'.repeat(40) });
    await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir, ROUTEPLEX_JWT_SECRET: 'j'.repeat(40) });
    expect(await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir })).to.deep.equal(first);
  });

  it('refuses a secrets file it cannot read instead of replacing the secrets, and leaves the file alone', async () => {
    await writeFile(file(), '{"hmacSecret": "trunc');
    let error: Error | undefined;
    await embeddedSecrets({ ROUTEPLEX_DATA_DIR: dir }).catch((e: Error) => (error = e));
    expect(error?.message).to.match(/secrets\.json exists but cannot be read.*delete it to generate new ones/);
    expect(await readFile(file(), 'utf8')).to.equal('{"hmacSecret": "trunc');
  });
});
