import { expect } from 'chai';
import { StoreError, wrapQueryError } from '../src/errors.js';

describe('wrapQueryError', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
  const duplicate = Object.assign(new Error('duplicate key value violates unique constraint "secret_pkey"'), {
    code: '23505',
  });

  it('says what failed and whether to retry, without the database text (hosts, constraints) that clients get', () => {
    const down = wrapQueryError(refused, 'loading account cells');
    expect(down).to.be.instanceOf(StoreError).and.include({ code: 'UNAVAILABLE', reason: 'QUERY_FAILED' });
    expect(down.message).to.equal(
      'loading account cells failed because the database is not reachable right now; retry later',
    );
    const broken = wrapQueryError(duplicate, 'creating an API key');
    expect(broken).to.include({ code: 'INTERNAL', reason: 'QUERY_FAILED' });
    expect(broken.message).to.equal('creating an API key failed because of a database error');
    for (const e of [down, broken]) expect(e.message).not.to.match(/10\.0\.0\.5|secret_pkey|ECONNREFUSED|23505/);
  });

  it('keeps the database error as the cause, for the logs', () => {
    expect(wrapQueryError(duplicate, 'x').cause).to.equal(duplicate);
    const typed = StoreError.invalid('accountId is invalid');
    expect(wrapQueryError(typed, 'x')).to.equal(typed);
  });
});
