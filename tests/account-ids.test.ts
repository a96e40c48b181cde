import { expect } from 'chai';
import { ACCOUNT_ID_SHAPE } from '@routeplex/platform';
import { ACCOUNT_ID_PATTERN } from '@routeplex/store';

describe('account ids across packages', () => {
  it('lets a credential name exactly the account ids the store accepts', () => {
    // The store's rule is fixed by its first migration; the JWT check must follow it, or a token would
    // authenticate an account whose every call then fails as a bad request.
    expect(ACCOUNT_ID_SHAPE.source).to.equal(ACCOUNT_ID_PATTERN);
  });
});
